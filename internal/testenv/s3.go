package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3Fake is a real S3-protocol server in process (github.com/johannesboyne/
// gofakes3 over an in-memory backend, versioning included) reached through
// the real SDK client, path-style, as local S3 servers need.
type S3Fake struct {
	// URL is the endpoint (AWS_ENDPOINT_URL_S3 for real binaries).
	URL string
	// Client is a real SDK client pointed at URL.
	Client *s3.Client

	srv *httptest.Server
}

// S3 starts a fake for the test and closes it at cleanup.
func S3(t testing.TB) *S3Fake {
	t.Helper()
	f, err := NewS3Fake("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// NewS3Fake starts a fake on addr ("" for a free loopback port) without a
// testing.T (local runs, the demo). Call Close when done.
func NewS3Fake(addr string) (*S3Fake, error) {
	faker := gofakes3.New(s3mem.New(), gofakes3.WithTimeSkewLimit(0), gofakes3.WithLogger(gofakes3.DiscardLog()))
	srv := httptest.NewUnstartedServer(faker.Server())
	if addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("s3 fake: %w", err)
		}
		srv.Listener.Close()
		srv.Listener = l
	}
	srv.Start()
	f := &S3Fake{URL: srv.URL, srv: srv}
	f.Client = s3.New(s3.Options{
		Region: Region, Credentials: Credentials, BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return f, nil
}

// Close stops the server.
func (f *S3Fake) Close() { f.srv.Close() }

// CreateBucket creates a bucket, versioned when asked.
func (f *S3Fake) CreateBucket(ctx context.Context, name string, versioned bool) error {
	if _, err := f.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("s3 fake: create bucket %s: %w", name, err)
	}
	if versioned {
		if _, err := f.Client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
			Bucket:                  aws.String(name),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
		}); err != nil {
			return fmt.Errorf("s3 fake: version bucket %s: %w", name, err)
		}
	}
	return nil
}

// Put stores body under key and returns the object's version id ("" in an
// unversioned bucket) and ETag (without quotes).
func (f *S3Fake) Put(ctx context.Context, bucket, key string, body []byte) (version, etag string, err error) {
	out, err := f.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		return "", "", fmt.Errorf("s3 fake: put %s: %w", key, err)
	}
	return aws.ToString(out.VersionId), trimQuotes(aws.ToString(out.ETag)), nil
}

// Get returns an object's body.
func (f *S3Fake) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := f.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("s3 fake: get %s: %w", key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// Keys lists the keys under prefix.
func (f *S3Fake) Keys(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(f.Client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3 fake: list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

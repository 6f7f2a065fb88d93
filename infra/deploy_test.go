package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestNoEmptyKmsKeyIdentifier: aws-cdk-lib 2.260.0 writes
// "KmsKeyIdentifier": "" on the event archive (aws/aws-cdk#37847), which
// some regions refuse at deploy time. The stack deletes the property; no
// resource may carry it, empty or not (an archive without it uses an AWS
// owned key).
func TestNoEmptyKmsKeyIdentifier(t *testing.T) {
	s := defaultStack(t)
	archives := s.resources("AWS::Events::Archive")
	if len(archives) == 0 {
		t.Fatal("no event archive in the template")
	}
	for id, r := range s.doc["Resources"].(map[string]any) {
		if v, ok := props(r.(map[string]any))["KmsKeyIdentifier"]; ok {
			t.Errorf("%s has KmsKeyIdentifier %q: the CDK's empty default (aws/aws-cdk#37847) must be deleted", id, v)
		}
	}
}

// CloudFormation's limits on a template body: sent inline in the request,
// and uploaded to S3 first (which the CDK CLI does for every template it
// deploys). The S3 limit is "1 MB" in AWS's quota table; the test takes the
// smaller, decimal reading.
const (
	inlineTemplateLimitBytes = 51_200
	s3TemplateLimitBytes     = 1_000_000
)

// TestTemplateSizeFitsCloudFormation reports the deployable template's size
// as the CDK writes it into cdk.out, and fails when it passes the limit for
// a template uploaded to S3. Past the inline limit is expected and fine:
// `make deploy` runs the CDK CLI, which always uploads (docs/deploy.md).
func TestTemplateSizeFitsCloudFormation(t *testing.T) {
	s := defaultStack(t)
	fi, err := os.Stat(filepath.Join(s.outdir, StackName+".template.json"))
	if err != nil {
		t.Fatalf("the synthesized template is not in the cloud assembly: %v", err)
	}
	size := fi.Size()
	t.Logf("%s.template.json: %d bytes (inline limit %d, S3 limit %d: %.1f%% of it)",
		StackName, size, inlineTemplateLimitBytes, s3TemplateLimitBytes, 100*float64(size)/s3TemplateLimitBytes)
	if size > s3TemplateLimitBytes {
		t.Errorf("template is %d bytes, over CloudFormation's %d-byte limit even from S3: split the stack", size, s3TemplateLimitBytes)
	}
	// The file is what CloudFormation receives; make sure it is the
	// template the assertions look at, not a stale one.
	b, err := os.ReadFile(filepath.Join(s.outdir, StackName+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk map[string]any
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatal(err)
	}
	if len(onDisk["Resources"].(map[string]any)) != len(s.doc["Resources"].(map[string]any)) {
		t.Error("the template in cdk.out differs from the synthesized stack")
	}
}

// TestDocumentedSAMInvokeFollowsASAMLocalSynth: `sam local invoke
// --env-vars` only overrides variables the template declares, and only a
// samLocal synthesis declares the local-only ones (credentials, endpoints).
// So wherever the README or docs/deploy.md show a `sam local invoke`, every
// synth the same section (or table row) mentions must be
// `make synth SAM_LOCAL=true`: a reader who runs a plain `make synth`
// gets a function failing at start-up ("ENCOMPASS_CLIENT_ID: required").
func TestDocumentedSAMInvokeFollowsASAMLocalSynth(t *testing.T) {
	root, _ := repoRoot()
	synth := regexp.MustCompile("make synth( SAM_LOCAL=true)?")
	for _, page := range []string{"README.md", filepath.Join("docs", "deploy.md")} {
		b, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Fatal(err)
		}
		invokes := 0
		for _, section := range markdownSections(string(b)) {
			if !strings.Contains(section.text, "sam local invoke") {
				continue
			}
			for _, line := range strings.Split(section.text, "\n") {
				if strings.Contains(line, "sam local invoke") && strings.Contains(line, " -t ") {
					invokes++
				}
			}
			synths := synth.FindAllString(section.text, -1)
			for _, m := range synths {
				if m != "make synth SAM_LOCAL=true" {
					t.Errorf("%s, %q: mentions a plain `make synth` next to sam local invoke; --env-vars needs `make synth SAM_LOCAL=true`", page, section.title)
				}
			}
			if !slices.Contains(synths, "make synth SAM_LOCAL=true") && strings.Contains(section.text, "--env-vars") {
				t.Errorf("%s, %q: shows sam local invoke --env-vars without saying to run `make synth SAM_LOCAL=true` first", page, section.title)
			}
		}
		if invokes == 0 {
			t.Errorf("%s shows no `sam local invoke -t ...` command any more; update this test", page)
		}
	}
}

// markdownSection is a heading's text up to the next heading, or one table
// row (a command table names commands of several sections at once).
type markdownSection struct{ title, text string }

func markdownSections(doc string) []markdownSection {
	var out []markdownSection
	cur := markdownSection{title: "(top)"}
	inCode := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		switch {
		case !inCode && strings.HasPrefix(line, "#"):
			out = append(out, cur)
			cur = markdownSection{title: strings.TrimSpace(strings.TrimLeft(line, "#"))}
		case !inCode && strings.HasPrefix(line, "|"):
			out = append(out, markdownSection{title: cur.title + " (table row)", text: line})
		default:
			cur.text += line + "\n"
		}
	}
	return append(out, cur)
}

package main

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

// Roster bucket prefixes (CONTRACTS section 7): rosters/ starts a
// reconciliation (rosters/apply/ applies it), reports/ holds the reports.
const (
	rostersPrefix = "rosters/"
	reportsPrefix = "reports/"
)

// rosterVersionDays keeps the versions a newer roster replaced for this
// long: enough to answer "what did HR send last month".
const rosterVersionDays = 90

// reconcileTimeoutSeconds: a 200,000-row roster takes about a minute; a
// listing of a large tenant without a fresh snapshot takes longer.
const reconcileTimeoutSeconds = lambdaMaxTimeoutSeconds

// reconcileGoMemLimit keeps the Go runtime's heap under the function's 256
// MB with room for the rest of the process: the garbage collector works
// harder near it instead of the function being killed.
const reconcileGoMemLimit = "200MiB"

// defineReconciliation creates the roster bucket (and its access-log
// bucket), the reconcile function, its least-privilege grants and the
// notification that starts it for every object under rosters/.
func (s *LifecycleStack) defineReconciliation(distDir, mappingFile string) error {
	s.RosterAccessLogs = awss3.NewBucket(s.Stack, jsii.String("RosterAccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:         jsii.String("ExpireAccessLogs"),
			Expiration: awscdk.Duration_Days(jsii.Number(float64(s.Config.ReportRetentionDays))),
		}},
	})
	// The bucket's name is derived from the account and region, not
	// generated: the function's variables and grants then name it without
	// referring to the bucket resource, so that the bucket can name the
	// function in its notification (a reference both ways is a cycle
	// CloudFormation refuses; the CDK's way out is a custom resource with
	// a Lambda function of its own).
	bucketName := awscdk.Fn_Join(jsii.String("-"), &[]*string{jsii.String(rosterBucketPrefix), awscdk.Aws_ACCOUNT_ID(), awscdk.Aws_REGION()})
	bucketARN := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":s3:::"), bucketName})
	s.RosterBucket = awss3.NewBucket(s.Stack, jsii.String("RosterBucket"), &awss3.BucketProps{
		// HR's rosters are personal data: encrypted, TLS only, never
		// public, every version kept for a while, every access logged.
		BucketName:             bucketName,
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		Versioned:              jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		ServerAccessLogsBucket: s.RosterAccessLogs,
		ServerAccessLogsPrefix: jsii.String("roster-bucket/"),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{
			{
				Id:                          jsii.String("ExpireReports"),
				Prefix:                      jsii.String(reportsPrefix),
				Expiration:                  awscdk.Duration_Days(jsii.Number(float64(s.Config.ReportRetentionDays))),
				NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1)),
			},
			{
				Id:                          jsii.String("ExpireReplacedRosters"),
				Prefix:                      jsii.String(rostersPrefix),
				NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(rosterVersionDays)),
			},
			{
				Id:                                  jsii.String("AbortIncompleteUploads"),
				AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
			},
		},
	})

	env := s.encompassEnv(map[string]string{
		"ROSTER_BUCKET":              *bucketName,
		"PROVISION_QUEUE_ARN":        *s.ProvisionQueue.QueueArn(),
		"DEPROVISION_QUEUE_ARN":      *s.DeprovisionQueue.QueueArn(),
		"RECONCILE_IGNORE_LOGINS":    s.Config.IgnoreLogins,
		"RECONCILE_MIN_ROSTER_RATIO": strconv.FormatFloat(s.Config.MinRosterRatio, 'f', -1, 64),
		"GOMEMLIMIT":                 reconcileGoMemLimit,
	})
	if s.Config.SAMLocal {
		for _, k := range localOnlyReconcileVars {
			env[k] = ""
		}
	}
	var code string
	if mappingFile != "" {
		// The same mapping as provisioning: drift is judged by the rules
		// that would correct it.
		var err error
		if code, err = s.stageWithMapping(distDir, "reconcile", mappingFile); err != nil {
			return err
		}
		env["MAPPING_FILE"] = lambdaTaskRoot + "/" + mappingAssetName
	}
	s.Reconcile = s.function(distDir, functionSpec{
		id:          "ReconcileFunction",
		description: "Reconciles an HRIS roster put under rosters/ with Encompass, reports, and sends the HRIS events that apply it",
		timeout:     reconcileTimeoutSeconds,
		reserved:    s.Concurrency.Reconcile,
		env:         env,
		codeDir:     code,
	})

	// Grants: read rosters/, write reports/, send to the two queues, read
	// the state table's links and snapshot, and the shared ones. Nothing
	// else: never Encompass writes (it has no way to), never the table.
	s.Reconcile.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadRosters"),
		Actions:   jsii.Strings("s3:GetObject", "s3:GetObjectVersion"),
		Resources: jsii.Strings(*bucketARN + "/" + rostersPrefix + "*"),
	}))
	s.Reconcile.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteReports"),
		Actions:   jsii.Strings("s3:PutObject"),
		Resources: jsii.Strings(*bucketARN + "/" + reportsPrefix + "*"),
	}))
	s.Reconcile.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SendHRISEvents"),
		Actions:   jsii.Strings("sqs:SendMessage"), // SendMessageBatch is authorized as SendMessage
		Resources: &[]*string{s.ProvisionQueue.QueueArn(), s.DeprovisionQueue.QueueArn()},
	}))
	s.grantTable(s.Reconcile, reconcileTableActions, reconcileReadKeys)
	s.grantPutEvents(s.Reconcile, sourceReconcile)
	s.EncompassSecret.GrantRead(s.Reconcile, nil)

	// S3 may invoke the function for this bucket only; the bucket is
	// created after the permission, as S3 checks its destination then.
	invoke := awslambda.NewCfnPermission(s.Stack, jsii.String("RosterBucketInvokesReconcile"), &awslambda.CfnPermissionProps{
		Action:        jsii.String("lambda:InvokeFunction"),
		FunctionName:  s.Reconcile.FunctionArn(),
		Principal:     jsii.String("s3.amazonaws.com"),
		SourceAccount: awscdk.Aws_ACCOUNT_ID(),
		SourceArn:     bucketARN,
	})
	cfn := s.RosterBucket.Node().DefaultChild().(awss3.CfnBucket)
	cfn.SetNotificationConfiguration(&awss3.CfnBucket_NotificationConfigurationProperty{
		LambdaConfigurations: &[]any{&awss3.CfnBucket_LambdaConfigurationProperty{
			Event:    jsii.String("s3:ObjectCreated:*"),
			Function: s.Reconcile.FunctionArn(),
			Filter: &awss3.CfnBucket_NotificationFilterProperty{S3Key: &awss3.CfnBucket_S3KeyFilterProperty{
				Rules: &[]any{&awss3.CfnBucket_FilterRuleProperty{Name: jsii.String("prefix"), Value: jsii.String(rostersPrefix)}},
			}},
		}},
	})
	cfn.AddDependency(invoke)
	return nil
}

// rosterBucketPrefix starts the roster bucket's name:
// encompass-lifecycle-rosters-<account>-<region>, at most 55 characters.
const rosterBucketPrefix = "encompass-lifecycle-rosters"

// localOnlyReconcileVars are the local endpoints reconcile also reads
// (samLocal only).
var localOnlyReconcileVars = []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS"}

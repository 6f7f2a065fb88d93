package lambdarun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxEnvFileBytes bounds an env-vars file: Lambda allows 4 KiB of variables per
// function, so anything near a megabyte is a mistake, not configuration.
const maxEnvFileBytes = 1 << 20

// reserved are the variables Lambda sets itself and refuses in a function's
// configuration; accepting them here would let a local run diverge from AWS.
var reserved = map[string]bool{
	"AWS_LAMBDA_RUNTIME_API":          true,
	"AWS_LAMBDA_FUNCTION_NAME":        true,
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION":     true,
	"AWS_LAMBDA_LOG_GROUP_NAME":       true,
	"AWS_LAMBDA_LOG_STREAM_NAME":      true,
	"AWS_LAMBDA_INITIALIZATION_TYPE":  true,
	"LAMBDA_TASK_ROOT":                true,
	"LAMBDA_RUNTIME_DIR":              true,
	"_HANDLER":                        true,
}

// LogicalID returns the CloudFormation logical id (construct id) of a function
// directory name: "provision" -> "ProvisionFunction" (CONTRACTS section 7).
func LogicalID(fn string) string {
	if fn == "" {
		return ""
	}
	if strings.HasSuffix(fn, "Function") {
		return fn
	}
	return strings.ToUpper(fn[:1]) + fn[1:] + "Function"
}

// LoadEnvVars reads a `sam local invoke --env-vars` style JSON file and returns
// the variables for the function with the given logical id: the "Parameters"
// object applies to every function, the object named after the function
// overrides it. Values may be strings, numbers or booleans.
func LoadEnvVars(path, logicalID string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("env vars: %w", err)
	}
	defer f.Close()
	vars, err := ParseEnvVars(f, logicalID)
	if err != nil {
		return nil, fmt.Errorf("env vars %s: %w", path, err)
	}
	return vars, nil
}

// ParseEnvVars is LoadEnvVars on a reader.
func ParseEnvVars(r io.Reader, logicalID string) (map[string]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxEnvFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxEnvFileBytes {
		return nil, fmt.Errorf("file is larger than %d bytes", maxEnvFileBytes)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf(`want a JSON object like {"Parameters": {...}, "%s": {...}}: %w`, logicalID, err)
	}
	out := map[string]string{}
	for _, section := range []string{"Parameters", logicalID} {
		raw, ok := doc[section]
		if !ok || section == "" {
			continue
		}
		vars, err := parseSection(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", section, err)
		}
		maps.Copy(out, vars)
	}
	return out, nil
}

func parseSection(raw json.RawMessage) (map[string]string, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("want an object of variable names to values")
	}
	out := make(map[string]string, len(obj))
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		if !validEnvName(name) {
			return nil, fmt.Errorf("invalid variable name %q", name)
		}
		if reserved[name] {
			return nil, fmt.Errorf("%s is reserved: Lambda sets it", name)
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(obj[name]))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		switch v := v.(type) {
		case string:
			if strings.ContainsRune(v, 0) {
				return nil, fmt.Errorf("%s: value contains a NUL byte", name)
			}
			out[name] = v
		case json.Number:
			out[name] = v.String()
		case bool:
			out[name] = strconv.FormatBool(v)
		case nil:
			// SAM treats null as "leave the template's value"; there is no
			// template here, so the variable is simply not set.
		default:
			return nil, fmt.Errorf("%s: want a string, number or boolean, got %T", name, v)
		}
	}
	return out, nil
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Environ is the whole environment of the bootstrap process (KEY=value,
// sorted): what Lambda's provided.al2023 runtime gives a function, then the
// function's variables. The host environment is not inherited, as in Lambda,
// except AWS credentials (as sam local does) so that a local run can reach
// real AWS when asked to.
func (c *Config) Environ(runtimeAPI, logStream string) []string {
	env := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME":        c.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(c.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + c.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      logStream,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      c.Region,
		"AWS_DEFAULT_REGION":              c.Region,
		"LAMBDA_TASK_ROOT":                filepath.Dir(c.Bootstrap),
		"LAMBDA_RUNTIME_DIR":              filepath.Dir(c.Bootstrap),
		"_HANDLER":                        filepath.Base(c.Bootstrap),
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH":                 "/lib64:/usr/lib64:/opt/lib",
	}
	if id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = id, secret
		if tok := os.Getenv("AWS_SESSION_TOKEN"); tok != "" {
			env["AWS_SESSION_TOKEN"] = tok
		}
	} else {
		// The SDK refuses to sign without credentials, and local servers
		// (dynalite, the EventBridge fake) accept any.
		env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "AKIDLOCAL", "local-secret"
	}
	for k, v := range c.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

package coldstart_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/lenderops/encompass-lifecycle/pkg/coldstart"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
)

// A cold-start failure is one JSON line; a configuration error names each
// variable at fault, so that an alarm or a person can read it off.
func TestFailIsOneLineNamingTheVariables(t *testing.T) {
	t.Parallel()
	_, err := config.Load(context.Background(), func(k string) string {
		return map[string]string{"ENCOMPASS_USER_API": "soap"}[k]
	}, config.ForProvision)
	if err == nil {
		t.Fatal("configuration accepted")
	}
	cases := map[string]struct {
		err  error
		vars []string
	}{
		"configuration": {err, []string{"ENCOMPASS_INSTANCE_ID", "ENCOMPASS_USER_API", "STATE_TABLE", "EVENT_BUS_NAME"}},
		"other":         {errors.New("encompass client: unauthorized"), nil},
	}
	for name, c := range cases {
		var out bytes.Buffer
		coldstart.Fail(&out, "provision", c.err)
		if bytes.Count(bytes.TrimSpace(out.Bytes()), []byte("\n")) != 0 {
			t.Fatalf("%s: not one line: %s", name, out.String())
		}
		var line struct {
			Level     string   `json:"level"`
			Msg       string   `json:"msg"`
			Function  string   `json:"function"`
			Variables []string `json:"variables"`
		}
		if err := json.Unmarshal(out.Bytes(), &line); err != nil {
			t.Fatalf("%s: not JSON: %s", name, out.String())
		}
		if line.Level != "ERROR" || line.Function != "provision" {
			t.Errorf("%s: %+v", name, line)
		}
		for _, v := range c.vars {
			if !slices.Contains(line.Variables, v) {
				t.Errorf("%s: variables %v, missing %s", name, line.Variables, v)
			}
		}
	}
}

package lambdarun

import (
	"context"
	"strings"
	"testing"
)

func TestBuildRejectsBadFunctionNames(t *testing.T) {
	t.Parallel()
	for _, fn := range []string{"", "../cmd/demo", "provision/../../x", `..\x`, "a.b"} {
		_, err := Build(context.Background(), t.TempDir(), t.TempDir(), fn)
		if err == nil || !strings.Contains(err.Error(), "invalid function name") {
			t.Errorf("Build(%q): err = %v, want an invalid function name error", fn, err)
		}
	}
}

func TestBuildReportsCompileErrors(t *testing.T) {
	t.Parallel()
	root, err := ModuleRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(context.Background(), root, t.TempDir(), "no-such-function")
	if err == nil || !strings.Contains(err.Error(), "no-such-function") {
		t.Errorf("err = %v, want go build's complaint naming the function", err)
	}
}

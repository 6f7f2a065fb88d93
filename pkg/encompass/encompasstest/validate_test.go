package encompasstest

import (
	"strings"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"1234562904 2345", "123-456-2904 2345"},
		{"123-456-2904", "123-456-2904"},
		{"(123) 456-2904", "123-456-2904"},
		{"(123) 456-2904 12", "123-456-2904 12"},
		{"123.456.2904", "123.456.2904"[:0] + "123-456-2904"},
		{"1 (123) 456-2904", "123-456-2904"},
		{"11234562904", "123-456-2904"},
		{"", ""},
		{"123456290", "!"},
		{"22345629041", "!"},
		{"+1 123 456 2904", "123-456-2904"},
		{"123 456 2904", "123-456-2904"},
		{"123 456 2904 99", "123-456-2904 99"},
		{"123-456-2904 12345", "!"},
		{"123-456-2904 ext", "!"},
		{"phone", "!"},
		{"+44 20 7946 0958", "!"},
		{"123\x00456-2904", "!"},
	}
	for _, tt := range tests {
		got, err := normalizePhone("phone", tt.in)
		if tt.want == "!" {
			if err == nil {
				t.Errorf("%q: accepted as %q", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %q %v, want %q", tt.in, got, err, tt.want)
		}
		if got != "" && !isEncompassPhone(got) {
			t.Errorf("%q normalised to %q, which v3 would refuse", tt.in, got)
		}
	}
}

func TestUserNameRules(t *testing.T) {
	t.Parallel()
	ok := []string{"jdoe", "j.doe", "J_Doe-2", "jdoe.", "élodie"}
	bad := []string{"", ".jdoe", `j\doe`, "j/doe", "j:doe", "j*doe", "j?doe", `j"doe`, "j<doe", "j>doe", "j doe", "j\tdoe"}
	for _, n := range ok {
		if err := checkUserName(n); err != nil {
			t.Errorf("%q refused: %v", n, err)
		}
	}
	for _, n := range bad {
		if checkUserName(n) == nil {
			t.Errorf("%q accepted", n)
		}
	}
}

func TestSigningKeyRules(t *testing.T) {
	t.Parallel()
	key := func(n int, last string) string { return "Aa1" + strings.Repeat("x", n-4) + last }
	for k, ok := range map[string]bool{
		key(32, "!"): true,
		key(31, "!"): false,
		key(64, "#"): true,
		key(65, "#"): false,
		key(40, "~"): false,
		key(40, "%"): false,
		key(40, "^"): true,
	} {
		if got := checkSigningKey(k) == nil; got != ok {
			t.Errorf("%q (%d chars): accepted=%v, want %v", k, len(k), got, ok)
		}
	}
}

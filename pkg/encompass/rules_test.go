package encompass

import (
	"strings"
	"testing"
)

func TestCheckUserName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"jdoe", "jane.doe", "j_doe-1", "a+b", "J.Doe@corp", strings.Repeat("a", MaxUserNameLength)} {
		if err := CheckUserName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".jdoe", `j\doe`, "j/doe", "j:doe", "j*doe", "j?doe", `j"doe`, "j<doe", "j>doe",
		"j doe", "j\tdoe", "j\u00a0doe", "j\x00doe", strings.Repeat("a", MaxUserNameLength+1)} {
		if err := CheckUserName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The value is quoted in ASCII in the error: an invisible or look-alike
// character shows as an escape, never raw.
func TestCheckUserNameQuotesInASCII(t *testing.T) {
	t.Parallel()
	err := CheckUserName(".h\u200b\u0430")
	if err == nil || !strings.Contains(err.Error(), `\u200b\u0430`) || strings.ContainsAny(err.Error(), "\u200b\u0430") {
		t.Errorf("error %q", err)
	}
}

// DeriveUserName also sees local parts an HRIS event's e-mail check refuses
// (quoted ones): every forbidden character goes, and leading periods.
func TestDeriveUserName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ email, want string }{
		{"Jane.Doe@Example.com", "jane.doe"},
		{"O'Brien@example.com", "o'brien"},
		{"Jane/Doe@example.com", "janedoe"},
		{"J*a?n=e@example.com", "jan=e"},
		{`"Jane:Doe<x>"@example.com`, "janedoex"},
		{`"Jane Doe"@example.com`, "janedoe"},
		{`".Jane\\Doe"@example.com`, "janedoe"},
		{`..A/B*C?D@example.com`, "abcd"},
		{`"\\/:*?<>"@example.com`, ""},
		{`no-at-sign`, ""},
		{`@example.com`, ""},
	} {
		got, err := DeriveUserName(tc.email)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: derived %q from nothing usable", tc.email, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.email, got, err, tc.want)
		}
	}
}

func TestLicenseStatusSpellings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Approved":                  "Approved",
		"approved conditional":      "ApprovedConditional",
		"APPROVED-ON-APPEAL":        "ApprovedOnAppeal",
		"Temporary failed to renew": "TemporaryFailedtoRenew",
		"Pending Review":            "PendingReview",
	} {
		if got, ok := LicenseStatusType(in); !ok || got != want {
			t.Errorf("LicenseStatusType(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "Valid", "Approved!!Maybe", "Approvedd"} {
		if got, ok := LicenseStatusType(bad); ok {
			t.Errorf("LicenseStatusType(%q) = %q, want not a status", bad, got)
		}
	}
}

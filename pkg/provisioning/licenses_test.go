package provisioning_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/catalog"
	"github.com/lenderops/encompass-lifecycle/pkg/config"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass/encompasstest"
)

func license(state, number, status, until string) map[string]any {
	return map[string]any{"state": state, "licenseNumber": number, "status": status, "expirationDate": until}
}

func withLicenses(emp map[string]any, ls ...any) map[string]any {
	emp["stateLicenses"] = ls
	return emp
}

// selected returns the user's selected licenses by state.
func selected(u encompasstest.SimUser) map[string]encompasstest.License {
	out := map[string]encompasstest.License{}
	for _, l := range u.Licenses {
		if l.Selected {
			out[l.StateAbbreviation] = l
		}
	}
	return out
}

// TestStateLicensesFollowTheHRIS: in scim mode a loan officer's state
// licenses are created with the account, changed only when the HRIS list
// changes, dropped when the HRIS drops them and cleared by null.
func TestStateLicensesFollowTheHRIS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM)

	hire := hrisEvent("hire", "E960", t0, withLicenses(joiner("E960", "licensed"), license("ca", "CA-99", "Approved", "2027-01-01")))
	e.mustSend(e.prov, hire.body())
	ls := selected(e.user("licensed"))
	if l := ls["CA"]; len(ls) != 1 || l.LicenseNumber != "CA-99" || l.LicenseStatusType != "Approved" || l.EndDate != "2027-01-01" {
		t.Fatalf("licenses after hire: %+v", e.user("licensed").Licenses)
	}
	if _, d := e.eventFor(hire.id()); changed(d)["stateLicenses"][1] != "CA CA-99 Approved until 2027-01-01" {
		t.Fatalf("hire changes: %v", changed(d))
	}

	// The same list again: nothing to write.
	e.sim.ResetRequests()
	same := hrisEvent("update", "E960", t0.Add(time.Hour), withLicenses(joiner("E960", "licensed"), license("CA", "CA-99", "approved", "2027-01-01")))
	e.mustSend(e.prov, same.body())
	if n := e.writes(); n != 0 {
		t.Fatalf("%d writes for unchanged licenses: %v", n, e.sim.Counts())
	}

	// A status change and a new state: one PATCH with both.
	e.sim.ResetRequests()
	grow := hrisEvent("update", "E960", t0.Add(2*time.Hour), withLicenses(joiner("E960", "licensed"),
		license("CA", "CA-99", "Approved Inactive", "2027-01-01"), license("TX", "TX-7", "Approved", "")))
	e.mustSend(e.prov, grow.body())
	ls = selected(e.user("licensed"))
	if len(ls) != 2 || ls["CA"].LicenseStatusType != "ApprovedInactive" || ls["TX"].LicenseNumber != "TX-7" {
		t.Fatalf("licenses after the change: %+v", ls)
	}
	if n := e.sim.Count("PATCH /scim2/v1/users/{id}"); n != 1 || e.writes() != 1 {
		t.Fatalf("%d SCIM PATCHes, %d writes; want one of each", n, e.writes())
	}
	dt, d := e.eventFor(grow.id())
	if c := changed(d)["stateLicenses"]; dt != catalog.UserUpdated ||
		c != [2]string{"CA CA-99 Approved until 2027-01-01", "CA CA-99 ApprovedInactive until 2027-01-01; TX TX-7 Approved"} {
		t.Fatalf("%s changes: %v", dt, changed(d))
	}

	// CA is no longer listed: it is dropped, TX stays.
	shrink := hrisEvent("update", "E960", t0.Add(3*time.Hour), withLicenses(map[string]any{}, license("TX", "TX-7", "Approved", "")))
	e.mustSend(e.prov, shrink.body())
	if ls = selected(e.user("licensed")); len(ls) != 1 || ls["TX"].LicenseNumber != "TX-7" {
		t.Fatalf("licenses after CA was dropped: %+v", e.user("licensed").Licenses)
	}

	// An update that does not mention licenses leaves them alone.
	e.mustSend(e.prov, hrisEvent("update", "E960", t0.Add(4*time.Hour), map[string]any{"jobTitle": "Branch Manager"}).body())
	if ls = selected(e.user("licensed")); len(ls) != 1 {
		t.Fatalf("licenses changed by an update that did not name them: %+v", ls)
	}

	// null clears them all.
	clear := hrisEvent("update", "E960", t0.Add(5*time.Hour), map[string]any{"stateLicenses": nil})
	e.mustSend(e.prov, clear.body())
	if ls = selected(e.user("licensed")); len(ls) != 0 {
		t.Fatalf("licenses after null: %+v", ls)
	}
	if _, d := e.eventFor(clear.id()); changed(d)["stateLicenses"] != [2]string{"TX TX-7 Approved", ""} {
		t.Fatalf("clear changes: %v", changed(d))
	}
}

// TestStateLicensesOnAdoption: an existing SCIM account (a lender's staff
// on day one) whose licenses already match is adopted without a license
// change; a license it lacks is written.
func TestStateLicensesOnAdoption(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPISCIM)
	for _, login := range []string{"adoptee1", "adoptee2"} {
		if err := e.sim.UpsertUser(encompasstest.SimUser{
			LoginID: login, FirstName: "Jane", LastName: "Doe", Email: login + "@lender.example", Enabled: true,
			OrganizationID: "0", Licenses: []encompasstest.License{{StateAbbreviation: "NY", Selected: true, LicenseNumber: "NY-1", LicenseStatusType: "Approved"}},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sim.AssignGlobalUserID(login); err != nil {
			t.Fatal(err)
		}
	}
	same := hrisEvent("update", "E961", t0, withLicenses(joiner("E961", "adoptee1"), license("NY", "NY-1", "Approved", "")))
	e.mustSend(e.prov, same.body())
	if _, d := e.eventFor(same.id()); d["action"] != "adopted" || changed(d)["stateLicenses"] != [2]string{} {
		t.Fatalf("adoption with matching licenses: action %v, changes %v", d["action"], changed(d))
	}
	more := hrisEvent("update", "E962", t0, withLicenses(joiner("E962", "adoptee2"), license("NY", "NY-1", "Approved", ""), license("NJ", "NJ-2", "Approved", "")))
	e.mustSend(e.prov, more.body())
	if ls := selected(e.user("adoptee2")); len(ls) != 2 || ls["NJ"].LicenseNumber != "NJ-2" {
		t.Fatalf("licenses after adoption: %+v", ls)
	}
	if _, d := e.eventFor(more.id()); changed(d)["stateLicenses"] != [2]string{"NY NY-1 Approved", "NJ NJ-2 Approved; NY NY-1 Approved"} {
		t.Fatalf("adoption changes: %v", changed(d))
	}
}

// TestStateLicensesInV3Mode: the v3 API does not take licenses; the event is
// applied without them and the log says why.
func TestStateLicensesInV3Mode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, config.UserAPIV3)
	hire := hrisEvent("hire", "E963", t0, withLicenses(joiner("E963", "v3lo"), license("CA", "CA-1", "Approved", "")))
	e.mustSend(e.prov, hire.body())
	if ls := selected(e.user("v3lo")); len(ls) != 0 {
		t.Fatalf("licenses written through v3: %+v", ls)
	}
	if _, d := e.eventFor(hire.id()); changed(d)["stateLicenses"] != [2]string{} {
		t.Fatalf("a license change was reported: %v", changed(d))
	}
	if !strings.Contains(e.logs.String(), "stateLicenses not written") {
		t.Fatal("the log does not say the licenses were left out")
	}
}

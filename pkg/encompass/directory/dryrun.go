package directory

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"

	"github.com/lenderops/encompass-lifecycle/pkg/account"
	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// dryRun reads through the directory it wraps and writes nothing: each write
// is logged as what would have been written, and answered as Encompass
// would answer it, so that the outcome describes the real run.
type dryRun struct {
	Directory
	log *slog.Logger
}

// DryRun wraps d so that nothing is written to Encompass (DRY_RUN=true).
func DryRun(d Directory, log *slog.Logger) Directory { return &dryRun{Directory: d, log: log} }

// Create answers as Encompass would: a conflict when the login id exists
// (the caller then matches it), else the account that would be created.
func (d *dryRun) Create(ctx context.Context, want account.Desired, plan account.Plan, _ account.Secrets) (*account.Account, error) {
	if _, err := d.Directory.Find(ctx, want.LoginID); err == nil {
		return nil, encompass.ErrConflict
	} else if !errors.Is(err, encompass.ErrNotFound) {
		return nil, err
	}
	d.log.InfoContext(ctx, "dry run: would create the user", "loginId", want.LoginID, "changes", changedFields(plan), "ddaProfile", plan.DDA.Add)
	acc := &account.Account{ID: strings.ToLower(want.LoginID), LoginID: want.LoginID, Enabled: true, Fields: map[string]string{}}
	for f, v := range want.Fields {
		if !account.IsDDAField(f) {
			acc.Fields[f] = v
		}
	}
	acc.SetNoDDA()
	return acc, nil
}

// Update writes nothing.
func (d *dryRun) Update(ctx context.Context, acc *account.Account, plan account.Plan, _ account.Secrets) error {
	if plan.DDA.Add && acc.GUID == "" {
		d.log.InfoContext(ctx, "dry run: would give the user a global user id (SCIM Account Links) for its DDA profile", "userId", acc.ID)
	}
	d.log.InfoContext(ctx, "dry run: would update the user", "userId", acc.ID, "changes", changedFields(plan))
	return nil
}

// Disable writes nothing and answers with the account as it would read back
// (a not-found error when it does not exist, as the disable would).
func (d *dryRun) Disable(ctx context.Context, acc *account.Account) (*account.Account, error) {
	if _, err := d.Directory.Read(ctx, acc.ID, acc.GUID); err != nil {
		return nil, err
	}
	d.log.InfoContext(ctx, "dry run: would disable the user", "userId", acc.ID, "ddaProfile", acc.HasDDA)
	back := *acc
	back.Fields = maps.Clone(acc.Fields)
	back.Enabled = false
	back.Fields[account.FieldEnabled] = "false"
	if back.HasDDA {
		back.Fields[account.FieldDDAEnabled] = "false"
	}
	return &back, nil
}

func changedFields(plan account.Plan) []string {
	out := make([]string, 0, len(plan.Changes))
	for _, c := range plan.Changes {
		out = append(out, c.Field)
	}
	return out
}

package encompass

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"strings"
)

// SchemaAIQUser is the SCIM schema of a DDA (AIQ) user profile (reference
// 002, "AIQ User Request Schema").
const SchemaAIQUser = "urn:ietf:params:scim:schemas:extension:ice:2.0:AIQUser"

// AIQUser is a DDA (AIQ) profile as SCIM sees it: the top-level id (the
// globalUserId the profile is linked to, the same as the employee's
// Encompass profile's) plus the AIQUser extension's attributes. ICE manages
// a DDA profile only under a global user id that already holds an Encompass
// profile (reference 001, "PATCH 10 Create a DDA User and link to an
// existing Encompass User"); standalone DDA users are not supported.
type AIQUser struct {
	// ID is the top-level id: the globalUserId.
	ID string `json:"-"`

	// AIQID is the extension's own id, when an answer carries one.
	AIQID    string `json:"id,omitempty"`
	UserName string `json:"userName,omitempty"`
	// RoleName is the DDA role, e.g. "Underwriter".
	RoleName string `json:"roleName,omitempty"`
	// Enabled must be true when the profile is created (reference 002).
	Enabled      *bool            `json:"enabled,omitempty"`
	Name         *SCIMName        `json:"name,omitempty"`
	PhoneNumbers []SCIMMultiValue `json:"phoneNumbers,omitempty"`
	Emails       []SCIMMultiValue `json:"emails,omitempty"`
	// SSOOnly defaults to true in DDA; an SSO-only profile needs AuthID,
	// one that is not needs Password.
	SSOOnly *bool  `json:"ssoOnly,omitempty"`
	AuthID  string `json:"authId,omitempty"`
	// Password is write-only; never logged.
	Password string `json:"password,omitempty"`

	Meta *SCIMMeta `json:"meta,omitempty"`
}

// IsEnabled reports whether the profile is enabled (absent reads as
// enabled: DDA creates profiles enabled).
func (u AIQUser) IsEnabled() bool { return u.Enabled == nil || *u.Enabled }

// IsSSOOnly reports whether the profile signs in through SSO only (absent
// reads as true, DDA's default).
func (u AIQUser) IsSSOOnly() bool { return u.SSOOnly == nil || *u.SSOOnly }

// String prints the profile without its password.
func (u AIQUser) String() string {
	return fmt.Sprintf("AIQUser{id=%s userName=%s role=%s enabled=%t}", u.ID, u.UserName, u.RoleName, u.IsEnabled())
}

// MarshalJSON writes the SCIM resource shape: schemas, the extension object.
func (u AIQUser) MarshalJSON() ([]byte, error) {
	type ext AIQUser
	out := map[string]any{
		"schemas":     []string{SchemaCoreUser, SchemaAIQUser},
		SchemaAIQUser: ext(u),
	}
	if u.ID != "" {
		out["id"] = u.ID
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the SCIM resource shape. The extension key is matched
// case-insensitively, as live tenants vary in casing elsewhere.
func (u *AIQUser) UnmarshalJSON(b []byte) error {
	type ext AIQUser
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("scim aiq user: %w", err)
	}
	var e ext
	for k, v := range raw {
		if strings.EqualFold(k, SchemaAIQUser) {
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("scim aiq user: %w", err)
			}
			break
		}
	}
	id, err := flexString(raw["id"])
	if err != nil {
		return fmt.Errorf("scim aiq user id: %w", err)
	}
	*u = AIQUser(e)
	u.ID = id
	return nil
}

// ReplaceAIQAttrs is the PATCH operation without a path that replaces the
// given AIQUser attributes, e.g. {"roleName": "Underwriter"}.
func ReplaceAIQAttrs(attrs map[string]any) PatchOp {
	return PatchOp{Op: "replace", Value: map[string]any{SchemaAIQUser: attrs}}
}

// AIQPath returns the PATCH path of an AIQUser attribute, e.g.
// AIQPath("name.middleName").
func AIQPath(attr string) string { return SchemaAIQUser + ":" + attr }

// AddAIQUser creates the DDA profile p under the global user id guid
// (PATCH add of the AIQUser schema: reference 001, "PATCH 10"). The answer
// carries no profile; read it back with GetAIQUser. A profile the global
// user id holds already, or a DDA userName another user holds, is a
// conflict (ErrConflict). An unknown outcome is resolved by reading the
// global user id's profile before sending again, so the add is never sent
// twice.
func (s *SCIMService) AddAIQUser(ctx context.Context, guid string, p AIQUser) error {
	if err := checkID(guid); err != nil {
		return fmt.Errorf("scim add aiq user: %w", err)
	}
	if p.UserName == "" {
		return fmt.Errorf("scim add aiq user %s: userName is required: %w", guid, ErrInvalidArgument)
	}
	type ext AIQUser
	body := patchBody{Schemas: []string{SchemaPatchOp}, Operations: []PatchOp{{Op: "add", Value: map[string]any{SchemaAIQUser: ext(p)}}}}
	cl := profileCall(http.MethodPatch, guid, SchemaAIQUser)
	cl.create = true
	cl.lookup = func(ctx context.Context) (bool, error) {
		if _, err := s.GetAIQUser(ctx, guid); err != nil {
			return false, err
		}
		return true, nil
	}
	if err := s.c.do(ctx, cl, body, nil); err != nil {
		return fmt.Errorf("scim add aiq user %s: %w", guid, err)
	}
	return nil
}

// PatchAIQUser applies PATCH operations to the DDA profile of guid (use
// ReplaceAIQAttrs and AIQPath). The answer carries no profile.
func (s *SCIMService) PatchAIQUser(ctx context.Context, guid string, ops []PatchOp) error {
	return s.patchProfile(ctx, "scim patch aiq user", guid, SchemaAIQUser, ops)
}

// DisableAIQUser disables the DDA profile of guid (SCIM DELETE with the
// AIQUser schema: the profile of that product is disabled, never deleted,
// and the other products' profiles are left alone).
func (s *SCIMService) DisableAIQUser(ctx context.Context, guid string) error {
	return s.disableProfile(ctx, "scim disable aiq user", guid, SchemaAIQUser)
}

// GetAIQUser returns the DDA profile of guid, or an error matching
// ErrNotFound when the global user id holds none.
func (s *SCIMService) GetAIQUser(ctx context.Context, guid string) (*AIQUser, error) {
	if err := checkID(guid); err != nil {
		return nil, fmt.Errorf("scim get aiq user: %w", err)
	}
	var u AIQUser
	if err := s.c.do(ctx, profileCall(http.MethodGet, guid, SchemaAIQUser), nil, &u); err != nil {
		return nil, fmt.Errorf("scim get aiq user %s: %w", guid, err)
	}
	if u.ID == "" {
		u.ID = guid
	}
	return &u, nil
}

// AIQUserList is one page of DDA profiles.
type AIQUserList struct {
	TotalResults int
	ItemsPerPage int
	StartIndex   int
	Users        []AIQUser
}

// ListAIQUsers returns one page of DDA profiles. opts.Filter takes the DDA
// filters of reference 003 joined by `and`: userName, name.givenName,
// name.familyName, name.middleName, emails.value, enabled, roleName;
// opts.Recursive and opts.Attributes are Encompass-only and refused here.
func (s *SCIMService) ListAIQUsers(ctx context.Context, opts SCIMListOptions) (*AIQUserList, error) {
	if opts.Recursive || len(opts.Attributes) > 0 {
		return nil, fmt.Errorf("scim list aiq users: enc_isRecursive and attributes are Encompass-only: %w", ErrInvalidArgument)
	}
	total, per, start, users, err := listSCIM[AIQUser](ctx, s, "scim list aiq users", "/scim2/v1/users", SchemaAIQUser, opts)
	if err != nil {
		return nil, err
	}
	return &AIQUserList{TotalResults: total, ItemsPerPage: per, StartIndex: start, Users: users}, nil
}

// AIQUsersPaginator returns a paginator over the DDA profiles matching opts.
func (s *SCIMService) AIQUsersPaginator(opts SCIMListOptions, optFns ...func(*PaginatorOptions)) *Paginator[AIQUser] {
	return scimPaginator(opts, func(ctx context.Context, o SCIMListOptions) ([]AIQUser, int, error) {
		page, err := s.ListAIQUsers(ctx, o)
		if err != nil {
			return nil, 0, err
		}
		return page.Users, page.TotalResults, nil
	}, optFns)
}

// AllAIQUsers iterates over every DDA profile matching opts, page by page:
// ceil(profiles/100) calls.
func (s *SCIMService) AllAIQUsers(ctx context.Context, opts SCIMListOptions) iter.Seq2[AIQUser, error] {
	return s.AIQUsersPaginator(opts).All(ctx)
}

// FindAIQUserByUserName returns the DDA profile with that userName
// (case-insensitively, checked on the client side, since a tenant may
// ignore a filter), or an error matching ErrNotFound.
func (s *SCIMService) FindAIQUserByUserName(ctx context.Context, userName string) (*AIQUser, error) {
	filter, err := userNameFilter("scim find aiq user", userName)
	if err != nil {
		return nil, err
	}
	for u, err := range s.AllAIQUsers(ctx, SCIMListOptions{Filter: filter}) {
		if err != nil {
			return nil, fmt.Errorf("scim find aiq user %s: %w", userName, err)
		}
		if strings.EqualFold(u.UserName, userName) {
			return &u, nil
		}
	}
	return nil, fmt.Errorf("scim find aiq user %s: %w", userName, ErrNotFound)
}

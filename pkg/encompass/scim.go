package encompass

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// SCIM schema URNs.
const (
	SchemaEncompassUser  = "urn:ietf:params:scim:schemas:extension:ice:2.0:EncompassInternalUser"
	SchemaEncompassGroup = "urn:ietf:params:scim:schemas:extension:ice:2.0:EncompassGroup"
	SchemaCoreUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaPatchOp        = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaListResponse   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

// MaxSCIMPageSize is the largest SCIM page (count).
const MaxSCIMPageSize = 100

// SCIMService is the SCIM 2.0 API (/scim2/v1/users, /scim2/v1/groups) for the
// EncompassInternalUser schema. Every call carries the required `schema`
// query parameter.
type SCIMService struct {
	c      *Client
	groups nameCache
}

// SCIMUser is an Encompass user as SCIM sees it: the top-level id (the
// globalUserId) plus the EncompassInternalUser extension's attributes.
type SCIMUser struct {
	// ID is the top-level id: the SCIM globalUserId (GUID). Store it; PATCH
	// and DELETE address users by it.
	ID string `json:"-"`

	// EncompassID is the extension's id: the Encompass user id (lower-case
	// login id).
	EncompassID string `json:"id,omitempty"`
	UserName    string `json:"userName,omitempty"`

	Name         *SCIMName        `json:"name,omitempty"`
	Emails       []SCIMMultiValue `json:"emails,omitempty"`
	PhoneNumbers []SCIMMultiValue `json:"phoneNumbers,omitempty"`
	JobTitle     string           `json:"jobTitle,omitempty"`
	EmployeeID   string           `json:"employeeId,omitempty"`

	Personas     []SCIMEntity `json:"personas,omitempty"`
	Organization *SCIMEntity  `json:"organization,omitempty"`
	Groups       []SCIMEntity `json:"groups,omitempty"`

	NMLSOriginatorID   string `json:"nmlsOriginatorId,omitempty"`
	NMLSExpirationDate string `json:"nmlsExpirationDate,omitempty"`
	WorkingFolder      string `json:"workingFolder,omitempty"`

	AccountEnabled        *bool    `json:"accountEnabled,omitempty"`
	LoginEnabled          *bool    `json:"loginEnabled,omitempty"`
	IsSSOOnly             *bool    `json:"isSsoOnly,omitempty"`
	RequirePasswordChange *bool    `json:"requirePasswordChange,omitempty"`
	UserIndicators        []string `json:"userIndicators,omitempty"`
	// APIUser marks an API user (a partner's integration account); it is
	// set only when the user is created, and read to tell such accounts
	// from people's.
	APIUser *bool `json:"apiUser,omitempty"`

	// Licenses are the state licenses of a loan officer. Encompass answers
	// one entry per state, most with only stateAbbreviation and selected.
	Licenses []SCIMLicense `json:"licenses,omitempty"`

	// Password is write-only; never logged.
	Password string `json:"password,omitempty"`

	Meta *SCIMMeta `json:"meta,omitempty"`
}

// SCIMLicense is a state license. Dates are yyyy-MM-dd (Encompass accepts
// date-times on input too); LicenseStatusType is e.g. "Approved".
type SCIMLicense struct {
	StateAbbreviation string `json:"stateAbbreviation"`
	Selected          bool   `json:"selected"`
	LicenseNumber     string `json:"licenseNumber,omitempty"`
	LicenseStatusType string `json:"licenseStatusType,omitempty"`
	LicenseStatus     string `json:"licenseStatus,omitempty"`
	IssueDate         string `json:"issueDate,omitempty"`
	StartDate         string `json:"startDate,omitempty"`
	EndDate           string `json:"endDate,omitempty"`
	StatusDate        string `json:"statusDate,omitempty"`
	LastChecked       string `json:"lastChecked,omitempty"`
}

// SCIMName is the SCIM name object.
type SCIMName struct {
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
	Formatted       string `json:"formatted,omitempty"`
}

// SCIMMultiValue is an emails or phoneNumbers entry. Type is work, home,
// mobile or fax.
type SCIMMultiValue struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// SCIMEntity references a persona, organization or group. EntityID decodes
// from a string or a number.
type SCIMEntity struct {
	EntityID   string `json:"entityId"`
	EntityName string `json:"entityName,omitempty"`
	EntityType string `json:"entityType,omitempty"`
}

// UnmarshalJSON accepts entityId as string or number.
func (e *SCIMEntity) UnmarshalJSON(b []byte) error {
	var raw struct {
		EntityID   flexID `json:"entityId"`
		EntityName string `json:"entityName"`
		EntityType string `json:"entityType"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("scim entity: %w", err)
	}
	*e = SCIMEntity{EntityID: string(raw.EntityID), EntityName: raw.EntityName, EntityType: raw.EntityType}
	return nil
}

// SCIMMeta is the SCIM meta object.
type SCIMMeta struct {
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location,omitempty"`
	ResourceType string `json:"resourceType,omitempty"`
}

// MarshalJSON writes the SCIM resource shape: schemas, the extension object.
func (u SCIMUser) MarshalJSON() ([]byte, error) {
	type ext SCIMUser
	out := map[string]any{
		"schemas":           []string{SchemaCoreUser, SchemaEncompassUser},
		SchemaEncompassUser: ext(u),
	}
	if u.ID != "" {
		out["id"] = u.ID
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the SCIM resource shape.
func (u *SCIMUser) UnmarshalJSON(b []byte) error {
	type ext SCIMUser
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("scim user: %w", err)
	}
	var e ext
	body, ok := raw[SchemaEncompassUser]
	if !ok {
		// Reference 003 also names the schema under "extension:enterprise".
		for k, v := range raw {
			if strings.HasSuffix(k, ":EncompassInternalUser") {
				body, ok = v, true
				break
			}
		}
	}
	if ok {
		if err := json.Unmarshal(body, &e); err != nil {
			return fmt.Errorf("scim user: %w", err)
		}
	}
	id, err := flexString(raw["id"])
	if err != nil {
		return fmt.Errorf("scim user id: %w", err)
	}
	*u = SCIMUser(e)
	u.ID = id
	return nil
}

// IsEnabled reports the account state: accountEnabled when present, else
// userIndicators, else enabled.
func (u SCIMUser) IsEnabled() bool {
	if u.AccountEnabled != nil {
		return *u.AccountEnabled
	}
	return User{UserIndicators: u.UserIndicators}.IsEnabled()
}

// String prints the user without its password.
func (u SCIMUser) String() string {
	return fmt.Sprintf("SCIMUser{id=%s userName=%s enabled=%t}", u.ID, u.UserName, u.IsEnabled())
}

// PatchOp is one SCIM PATCH operation. Op is "add", "replace" or "remove";
// Path is optional for add and replace (then Value is an object keyed by the
// schema URN); Value is omitted for remove.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// UserPath returns the PATCH path of an EncompassInternalUser attribute,
// e.g. UserPath("name.middleName").
func UserPath(attr string) string { return SchemaEncompassUser + ":" + attr }

// ReplaceUserAttrs is the PATCH operation without a path that replaces the
// given extension attributes, e.g. {"accountEnabled": true}.
func ReplaceUserAttrs(attrs map[string]any) PatchOp {
	return PatchOp{Op: "replace", Value: map[string]any{SchemaEncompassUser: attrs}}
}

// SCIMListOptions selects a SCIM page.
type SCIMListOptions struct {
	// Filter is a SCIM filter, e.g. `userName eq "jdoe"` or `enc_orgId eq 1`.
	Filter string
	// Recursive adds `enc_isRecursive eq true`: without it Encompass lists
	// only the users of the root organization (or of enc_orgId itself).
	Recursive bool
	// StartIndex is one-based; 0 means 1.
	StartIndex int
	// Count is the page size, at most MaxSCIMPageSize; 0 means the maximum.
	Count int
	// Attributes asks for extra attributes (personas, licenses).
	Attributes []string
}

// count is the page size asked for: Count, at most and by default
// MaxSCIMPageSize.
func (o SCIMListOptions) count() int {
	if o.Count <= 0 || o.Count > MaxSCIMPageSize {
		return MaxSCIMPageSize
	}
	return o.Count
}

func (o SCIMListOptions) query(schema string) url.Values {
	q := url.Values{"schema": {schema}}
	q.Set("startIndex", strconv.Itoa(max(o.StartIndex, 1)))
	q.Set("count", strconv.Itoa(o.count()))
	filter := o.Filter
	if o.Recursive {
		if filter != "" {
			filter += " and "
		}
		filter += "enc_isRecursive eq true"
	}
	if filter != "" {
		q.Set("filter", filter)
	}
	if len(o.Attributes) > 0 {
		q.Set("attributes", strings.Join(o.Attributes, ","))
	}
	return q
}

// SCIMUserList is one page of SCIM users. The totals arrive as strings and
// are decoded into numbers.
type SCIMUserList struct {
	TotalResults int
	ItemsPerPage int
	StartIndex   int
	Users        []SCIMUser
}

// SCIMGroupList is one page of SCIM groups.
type SCIMGroupList struct {
	TotalResults int
	ItemsPerPage int
	StartIndex   int
	Groups       []SCIMGroup
}

type listResponse struct {
	TotalResults json.RawMessage   `json:"totalResults"`
	ItemsPerPage json.RawMessage   `json:"itemsPerPage"`
	StartIndex   json.RawMessage   `json:"startIndex"`
	Resources    []json.RawMessage `json:"Resources"`
}

func (l listResponse) numbers() (total, per, start int, err error) {
	parse := func(name string, raw json.RawMessage) int {
		s, e := flexString(raw)
		if e != nil || s == "" {
			if e != nil && err == nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
			return 0
		}
		n, e := strconv.Atoi(s)
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %w", name, e)
		}
		return n
	}
	return parse("totalResults", l.TotalResults), parse("itemsPerPage", l.ItemsPerPage), parse("startIndex", l.StartIndex), err
}

// listSCIM fetches one page of a SCIM list at path (/scim2/v1/users or
// /scim2/v1/groups) in schema and decodes its Resources as T; what names the
// operation in errors ("scim list users").
func listSCIM[T any](ctx context.Context, s *SCIMService, what, path, schema string, opts SCIMListOptions) (total, per, start int, items []T, err error) {
	var lr listResponse
	if err := s.c.do(ctx, call{method: http.MethodGet, path: path, endpoint: path, query: opts.query(schema)}, nil, &lr); err != nil {
		return 0, 0, 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	if total, per, start, err = lr.numbers(); err != nil {
		return 0, 0, 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	items = make([]T, 0, len(lr.Resources))
	for _, r := range lr.Resources {
		var v T
		if err := json.Unmarshal(r, &v); err != nil {
			return 0, 0, 0, nil, fmt.Errorf("%s: %w", what, err)
		}
		items = append(items, v)
	}
	return total, per, start, items, nil
}

func scimUserQuery() url.Values { return url.Values{"schema": {SchemaEncompassUser}} }

// CreateUser creates a user and returns it with its globalUserId. An unknown
// outcome (timeout after sending) is resolved by looking the userName up
// before re-sending, so the user is never created twice.
func (s *SCIMService) CreateUser(ctx context.Context, u SCIMUser) (*SCIMUser, error) {
	if u.UserName == "" {
		return nil, fmt.Errorf("scim create user: userName is required: %w", ErrInvalidArgument)
	}
	u.ID = ""
	var out SCIMUser
	cl := call{method: http.MethodPost, path: "/scim2/v1/users", endpoint: "/scim2/v1/users", query: scimUserQuery(), create: true,
		lookup: func(ctx context.Context) (bool, error) {
			found, err := s.FindUserByUserName(ctx, u.UserName)
			if err != nil {
				return false, err
			}
			out = *found
			return true, nil
		}}
	if err := s.c.do(ctx, cl, u, &out); err != nil {
		return nil, fmt.Errorf("scim create user %s: %w", u.UserName, err)
	}
	return &out, nil
}

// GetUser returns the user with the given globalUserId.
func (s *SCIMService) GetUser(ctx context.Context, guid string) (*SCIMUser, error) {
	if err := checkID(guid); err != nil {
		return nil, fmt.Errorf("scim get user: %w", err)
	}
	var u SCIMUser
	q := scimUserQuery()
	q.Set("attributes", "personas,licenses")
	if err := s.c.do(ctx, call{method: http.MethodGet, path: "/scim2/v1/users/" + url.PathEscape(guid), endpoint: "/scim2/v1/users/{id}", query: q}, nil, &u); err != nil {
		return nil, fmt.Errorf("scim get user %s: %w", guid, err)
	}
	return &u, nil
}

// ListUsers returns one page of users.
func (s *SCIMService) ListUsers(ctx context.Context, opts SCIMListOptions) (*SCIMUserList, error) {
	total, per, start, users, err := listSCIM[SCIMUser](ctx, s, "scim list users", "/scim2/v1/users", SchemaEncompassUser, opts)
	if err != nil {
		return nil, err
	}
	return &SCIMUserList{TotalResults: total, ItemsPerPage: per, StartIndex: start, Users: users}, nil
}

// UsersPaginator returns a paginator over the users matching opts, from
// opts.StartIndex (set opts.Recursive for the whole organization tree). The
// list ends at an empty page or at its totalResults: a SCIM server may serve
// fewer users than asked without being at the end.
func (s *SCIMService) UsersPaginator(opts SCIMListOptions, optFns ...func(*PaginatorOptions)) *Paginator[SCIMUser] {
	return scimPaginator(opts, func(ctx context.Context, o SCIMListOptions) ([]SCIMUser, int, error) {
		page, err := s.ListUsers(ctx, o)
		if err != nil {
			return nil, 0, err
		}
		return page.Users, page.TotalResults, nil
	}, optFns)
}

// AllUsers iterates over every user matching opts, page by page (set
// opts.Recursive for the whole organization tree).
func (s *SCIMService) AllUsers(ctx context.Context, opts SCIMListOptions) iter.Seq2[SCIMUser, error] {
	return s.UsersPaginator(opts).All(ctx)
}

// scimPaginator pages a SCIM list through startIndex (one-based) and count.
// list returns one page's items and its totalResults.
func scimPaginator[T any](opts SCIMListOptions, list func(context.Context, SCIMListOptions) ([]T, int, error), optFns []func(*PaginatorOptions)) *Paginator[T] {
	po := PaginatorOptions{Offset: max(opts.StartIndex, 1) - 1, Limit: opts.count()}
	for _, fn := range optFns {
		fn(&po)
	}
	po.Limit = SCIMListOptions{Count: po.Limit}.count()
	po.EndAtShortPage = false
	return NewPaginator(func(ctx context.Context, offset, limit int) (Page[T], error) {
		o := opts
		o.StartIndex, o.Count = offset+1, limit
		items, total, err := list(ctx, o)
		if total <= 0 {
			// An answer without totalResults decodes as 0: unknown, not empty.
			total = -1
		}
		return Page[T]{Items: items, Total: total}, err
	}, po)
}

// FindUserByUserName returns the user with that userName
// (case-insensitively, checked on the client side), or an error matching
// ErrNotFound. It asks the list with the userName filter; when the answer
// holds only other users, the tenant ignored the filter, and it pages
// through every user of the organization tree instead, checking each, until
// it finds the user or the list ends.
func (s *SCIMService) FindUserByUserName(ctx context.Context, userName string) (*SCIMUser, error) {
	filter, err := userNameFilter("scim find user", userName)
	if err != nil {
		return nil, err
	}
	// personas and licenses come along at no extra call, so that a caller
	// adopting the user can compare them.
	attrs := []string{"personas", "licenses"}
	page, err := s.ListUsers(ctx, SCIMListOptions{Filter: filter, Attributes: attrs})
	if err != nil {
		return nil, fmt.Errorf("scim find user %s: %w", userName, err)
	}
	if u, ok := matchUserName(page.Users, userName); ok {
		return u, nil
	}
	if len(page.Users) == 0 {
		return nil, fmt.Errorf("scim find user %s: %w", userName, ErrNotFound)
	}
	// The filter was ignored: the answer is (a page of) the unfiltered list.
	s.c.log.Debug("encompass scim userName filter ignored, scanning users", "answered", len(page.Users))
	for u, err := range s.AllUsers(ctx, SCIMListOptions{Recursive: true, Attributes: attrs}) {
		if err != nil {
			return nil, fmt.Errorf("scim find user %s: %w", userName, err)
		}
		if m, ok := matchUserName([]SCIMUser{u}, userName); ok {
			return m, nil
		}
	}
	return nil, fmt.Errorf("scim find user %s: %w", userName, ErrNotFound)
}

// userNameFilter is the SCIM filter userName eq "<userName>"; a blank name,
// or one with a quote or backslash that would end the quoted string, is
// ErrInvalidArgument (what names the operation).
func userNameFilter(what, userName string) (string, error) {
	if strings.TrimSpace(userName) == "" || strings.ContainsAny(userName, "\"\\") {
		return "", fmt.Errorf("%s %q: %w", what, truncate(userName, 40), ErrInvalidArgument)
	}
	return fmt.Sprintf("userName eq %q", userName), nil
}

// matchUserName returns the user whose userName equals name
// (case-insensitively; the Encompass id is the lower-case userName).
func matchUserName(users []SCIMUser, name string) (*SCIMUser, bool) {
	for i := range users {
		u := &users[i]
		if strings.EqualFold(u.UserName, name) || (u.UserName == "" && strings.EqualFold(u.EncompassID, name)) {
			return u, true
		}
	}
	return nil, false
}

// PatchUser applies PATCH operations to the user with the given
// globalUserId. The answer carries no user; read it back with GetUser.
func (s *SCIMService) PatchUser(ctx context.Context, guid string, ops []PatchOp) error {
	return s.patchProfile(ctx, "scim patch user", guid, SchemaEncompassUser, ops)
}

// DisableUser disables (SCIM DELETE; Encompass never deletes) the user with
// the given globalUserId.
func (s *SCIMService) DisableUser(ctx context.Context, guid string) error {
	return s.disableProfile(ctx, "scim disable user", guid, SchemaEncompassUser)
}

// profileCall is a request on the profile in schema (the Encompass user or
// the DDA profile) of the global user id guid. GET and DELETE take the
// product schema as their `schema` parameter (reference 003); PATCH is sent
// with it too, so that a tenant that routes by it finds the DDA profile
// (reference 001's PATCH samples carry no query at all: docs/client.md).
func profileCall(method, guid, schema string) call {
	return call{method: method, path: "/scim2/v1/users/" + url.PathEscape(guid), endpoint: "/scim2/v1/users/{id}", query: url.Values{"schema": {schema}}}
}

// patchProfile applies PATCH operations to the profile in schema of guid;
// what names the operation in errors.
func (s *SCIMService) patchProfile(ctx context.Context, what, guid, schema string, ops []PatchOp) error {
	if err := checkID(guid); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(ops) == 0 {
		return fmt.Errorf("%s %s: no operations: %w", what, guid, ErrInvalidArgument)
	}
	body := patchBody{Schemas: []string{SchemaPatchOp}, Operations: ops}
	if err := s.c.do(ctx, profileCall(http.MethodPatch, guid, schema), body, nil); err != nil {
		return fmt.Errorf("%s %s: %w", what, guid, err)
	}
	return nil
}

// disableProfile disables the profile in schema of guid (SCIM DELETE: that
// product's profile is disabled, never deleted; the others are left alone).
func (s *SCIMService) disableProfile(ctx context.Context, what, guid, schema string) error {
	if err := checkID(guid); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := s.c.do(ctx, profileCall(http.MethodDelete, guid, schema), nil, nil); err != nil {
		return fmt.Errorf("%s %s: %w", what, guid, err)
	}
	return nil
}

// EnableUser re-enables a disabled user (PATCH replace of accountEnabled).
func (s *SCIMService) EnableUser(ctx context.Context, guid string) error {
	return s.PatchUser(ctx, guid, []PatchOp{ReplaceUserAttrs(map[string]any{"accountEnabled": true})})
}

type patchBody struct {
	Schemas    []string  `json:"schemas"`
	Operations []PatchOp `json:"operations"`
}

// SCIMGroup is an Encompass user group.
type SCIMGroup struct {
	ID          string
	DisplayName string
	Members     []SCIMGroupMember
}

// SCIMGroupMember is a group member: Type "User" (Value = user id / login
// id) or "Organization" (Value = org id, OrgLevel "Current" or "Recursive").
type SCIMGroupMember struct {
	Value             string   `json:"value"`
	Type              string   `json:"type"`
	OrgLevel          string   `json:"orgLevel,omitempty"`
	EntityName        string   `json:"entityName,omitempty"`
	AccountIndicators []string `json:"accountIndicators,omitempty"`
}

// UnmarshalJSON accepts value as a string or number.
func (m *SCIMGroupMember) UnmarshalJSON(b []byte) error {
	var raw struct {
		Value             flexID   `json:"value"`
		Type              string   `json:"type"`
		OrgLevel          string   `json:"orgLevel"`
		EntityName        string   `json:"entityName"`
		AccountIndicators []string `json:"accountIndicators"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("group member: %w", err)
	}
	*m = SCIMGroupMember{Value: string(raw.Value), Type: raw.Type, OrgLevel: raw.OrgLevel, EntityName: raw.EntityName, AccountIndicators: raw.AccountIndicators}
	return nil
}

// UserMember is the group member entry for a user id.
func UserMember(userID string) SCIMGroupMember { return SCIMGroupMember{Value: userID, Type: "User"} }

type groupExt struct {
	ID          json.RawMessage   `json:"id"`
	DisplayName string            `json:"displayName"`
	Members     []SCIMGroupMember `json:"members"`
}

// UnmarshalJSON reads the group from the EncompassGroup extension (or the
// top level, whichever carries it).
func (g *SCIMGroup) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("scim group: %w", err)
	}
	var top, ext groupExt
	if err := json.Unmarshal(b, &top); err != nil {
		return fmt.Errorf("scim group: %w", err)
	}
	if body, ok := raw[SchemaEncompassGroup]; ok {
		if err := json.Unmarshal(body, &ext); err != nil {
			return fmt.Errorf("scim group: %w", err)
		}
	}
	id, err := flexString(ext.ID)
	if err == nil && id == "" {
		id, err = flexString(top.ID)
	}
	if err != nil {
		return fmt.Errorf("scim group id: %w", err)
	}
	g.ID = id
	g.DisplayName = firstNonEmpty(ext.DisplayName, top.DisplayName)
	g.Members = ext.Members
	if g.Members == nil {
		g.Members = top.Members
	}
	return nil
}

// HasUser reports whether the group lists the user id as a member.
func (g SCIMGroup) HasUser(userID string) bool {
	for _, m := range g.Members {
		if strings.EqualFold(m.Type, "User") && strings.EqualFold(m.Value, userID) {
			return true
		}
	}
	return false
}

// ListGroups returns one page of groups.
func (s *SCIMService) ListGroups(ctx context.Context, opts SCIMListOptions) (*SCIMGroupList, error) {
	total, per, start, groups, err := listSCIM[SCIMGroup](ctx, s, "scim list groups", "/scim2/v1/groups", SchemaEncompassGroup, opts)
	if err != nil {
		return nil, err
	}
	return &SCIMGroupList{TotalResults: total, ItemsPerPage: per, StartIndex: start, Groups: groups}, nil
}

// GroupsPaginator returns a paginator over the groups matching opts.
func (s *SCIMService) GroupsPaginator(opts SCIMListOptions, optFns ...func(*PaginatorOptions)) *Paginator[SCIMGroup] {
	return scimPaginator(opts, func(ctx context.Context, o SCIMListOptions) ([]SCIMGroup, int, error) {
		page, err := s.ListGroups(ctx, o)
		if err != nil {
			return nil, 0, err
		}
		return page.Groups, page.TotalResults, nil
	}, optFns)
}

// AllGroups iterates over every group.
func (s *SCIMService) AllGroups(ctx context.Context) iter.Seq2[SCIMGroup, error] {
	return s.GroupsPaginator(SCIMListOptions{}).All(ctx)
}

// GetGroup returns a group with its members.
func (s *SCIMService) GetGroup(ctx context.Context, id string) (*SCIMGroup, error) {
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("scim get group: %w", err)
	}
	var g SCIMGroup
	q := url.Values{"schema": {SchemaEncompassGroup}}
	if err := s.c.do(ctx, call{method: http.MethodGet, path: "/scim2/v1/groups/" + url.PathEscape(id), endpoint: "/scim2/v1/groups/{id}", query: q}, nil, &g); err != nil {
		return nil, fmt.Errorf("scim get group %s: %w", id, err)
	}
	return &g, nil
}

// AddGroupMembers adds members to a group (PATCH add without path).
func (s *SCIMService) AddGroupMembers(ctx context.Context, groupID string, members ...SCIMGroupMember) error {
	if err := checkID(groupID); err != nil {
		return fmt.Errorf("scim add group members: %w", err)
	}
	if len(members) == 0 {
		return nil
	}
	op := PatchOp{Op: "add", Value: map[string]any{SchemaEncompassGroup: map[string]any{"members": members}}}
	return s.patchGroup(ctx, groupID, op, "add group members")
}

// RemoveGroupMember removes one member from a group (PATCH remove with a
// members[value eq "..." and type eq "..."] path).
func (s *SCIMService) RemoveGroupMember(ctx context.Context, groupID string, member SCIMGroupMember) error {
	if err := checkID(groupID); err != nil {
		return fmt.Errorf("scim remove group member: %w", err)
	}
	if member.Value == "" || strings.ContainsAny(member.Value+member.Type, "\"\\") {
		return fmt.Errorf("scim remove group member %q: %w", truncate(member.Value, 40), ErrInvalidArgument)
	}
	typ := member.Type
	if typ == "" {
		typ = "User"
	}
	path := fmt.Sprintf("%s:members[value eq %q and type eq %q]", SchemaEncompassGroup, member.Value, typ)
	return s.patchGroup(ctx, groupID, PatchOp{Op: "remove", Path: path}, "remove group member")
}

func (s *SCIMService) patchGroup(ctx context.Context, groupID string, op PatchOp, what string) error {
	body := patchBody{Schemas: []string{SchemaPatchOp}, Operations: []PatchOp{op}}
	q := url.Values{"schema": {SchemaEncompassGroup}}
	if err := s.c.do(ctx, call{method: http.MethodPatch, path: "/scim2/v1/groups/" + url.PathEscape(groupID), endpoint: "/scim2/v1/groups/{id}", query: q}, body, nil); err != nil {
		return fmt.Errorf("scim %s %s: %w", what, groupID, err)
	}
	return nil
}

// ResolveGroups maps group display names (case-insensitive) to group ids.
// The group list is fetched once per Client and cached; unknown names give
// an *UnknownNamesError listing the known ones.
func (s *SCIMService) ResolveGroups(ctx context.Context, names []string) (map[string]string, error) {
	index, err := s.groups.load(ctx, func(ctx context.Context, add func(name, id string)) error {
		for g, err := range s.AllGroups(ctx) {
			if err != nil {
				return err
			}
			add(g.DisplayName, g.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolve groups: %w", err)
	}
	return index.resolve("group", names)
}

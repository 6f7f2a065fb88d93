package encompass

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxUsersPageSize is the largest page the v3 users list serves.
const MaxUsersPageSize = 200

// UsersService is the v3 user API (/encompass/v3/users).
type UsersService struct{ c *Client }

// User is a v3 Encompass user. Unknown fields are ignored when decoding;
// empty fields are left out when encoding (Create sends only what is set).
type User struct {
	// ID is the user id, the lower-case login id.
	ID      string `json:"id,omitempty"`
	LoginID string `json:"loginId,omitempty"`

	FirstName  string `json:"firstName,omitempty"`
	MiddleName string `json:"middleName,omitempty"`
	LastName   string `json:"lastName,omitempty"`
	Suffix     string `json:"suffix,omitempty"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	CellPhone  string `json:"cellPhone,omitempty"`
	Fax        string `json:"fax,omitempty"`
	Title      string `json:"title,omitempty"`
	EmployeeID string `json:"employeeId,omitempty"`

	OrganizationID string       `json:"organizationId,omitempty"`
	Personas       []PersonaRef `json:"personas,omitempty"`

	// Enabled is the account state when the answer carries it; otherwise
	// UserIndicators does. Use IsEnabled, which reads whichever is present.
	Enabled        *bool    `json:"enabled,omitempty"`
	UserIndicators []string `json:"userIndicators,omitempty"`

	// NMLSOriginatorID also decodes from nmlsOriginatorID: encoding/json
	// matches object keys case-insensitively.
	NMLSOriginatorID      string `json:"nmlsOriginatorId,omitempty"`
	NMLSExpirationDate    string `json:"nmlsExpirationDate,omitempty"`
	WorkingFolder         string `json:"workingFolder,omitempty"`
	RequirePasswordChange bool   `json:"requirePasswordChange,omitempty"`
	SSOOnly               bool   `json:"ssoOnly,omitempty"`

	// Password is write-only: sent by Create, never returned, never logged
	// (User's String and LogValue leave it out).
	Password string `json:"password,omitempty"`
}

// PersonaRef is a persona assigned to a user. It decodes from {"id","name"},
// {"entityId","entityName"} or a bare id string or number.
type PersonaRef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// UnmarshalJSON accepts every persona reference shape seen on live tenants.
func (p *PersonaRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		id, err := flexString(b)
		if err != nil {
			return fmt.Errorf("persona reference: %w", err)
		}
		*p = PersonaRef{ID: id}
		return nil
	}
	// flexID fields decode strings and numbers without copying raw JSON:
	// this runs once per persona of every listed user.
	var raw struct {
		ID         flexID `json:"id"`
		EntityID   flexID `json:"entityId"`
		Name       string `json:"name"`
		EntityName string `json:"entityName"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("persona reference: %w", err)
	}
	id := string(raw.ID)
	if id == "" {
		id = string(raw.EntityID)
	}
	*p = PersonaRef{ID: id, Name: firstNonEmpty(raw.Name, raw.EntityName)}
	return nil
}

// flexID is an id that arrives as a JSON string or number.
type flexID string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexID) UnmarshalJSON(b []byte) error {
	s, err := flexString(b)
	if err != nil {
		return err
	}
	*f = flexID(s)
	return nil
}

// plainASCII reports whether b needs no JSON unescaping or UTF-8 repair.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// flexString decodes a JSON string or number (or null/absent) as a string.
func flexString(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return "", nil
	}
	if b[0] == '"' {
		// Fast path for the usual id: printable ASCII without escapes.
		if len(b) >= 2 && b[len(b)-1] == '"' && plainASCII(b[1:len(b)-1]) {
			return string(b[1 : len(b)-1]), nil
		}
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return "", fmt.Errorf("want a string or number, got %.20s", b)
	}
	return n.String(), nil
}

// IsEnabled reports whether the account is enabled, from `enabled` when the
// answer carries it, else from userIndicators ("Disabled" means disabled).
// An answer with neither is treated as enabled: Encompass only marks the
// exceptions.
func (u User) IsEnabled() bool {
	if u.Enabled != nil {
		return *u.Enabled
	}
	for _, ind := range u.UserIndicators {
		switch strings.ToLower(ind) {
		case "disabled":
			return false
		}
	}
	return true
}

// IsLocked reports whether userIndicators contains "Locked".
func (u User) IsLocked() bool {
	for _, ind := range u.UserIndicators {
		if strings.EqualFold(ind, "Locked") {
			return true
		}
	}
	return false
}

// PersonaIDs returns the ids of the user's personas in their order.
func (u User) PersonaIDs() []string {
	ids := make([]string, 0, len(u.Personas))
	for _, p := range u.Personas {
		ids = append(ids, p.ID)
	}
	return ids
}

// String prints the user without its password.
func (u User) String() string {
	return fmt.Sprintf("User{id=%s loginId=%s enabled=%t}", u.ID, u.LoginID, u.IsEnabled())
}

// UserPatch is a v3 PATCH body: only the fields to change, keyed by their v3
// JSON names. A nil value is sent as an explicit null, which clears the field.
type UserPatch map[string]any

// ListUsersOptions selects a page of v3 users.
type ListUsersOptions struct {
	// Start is the zero-based offset of the first user.
	Start int
	// Limit is the page size, at most MaxUsersPageSize; 0 means the maximum.
	Limit int
	// OrgID restricts the list to one organization (servers may ignore it).
	OrgID string
	// IsRecursive includes the organization's children.
	IsRecursive bool
}

func (o ListUsersOptions) pageSize() int {
	if o.Limit <= 0 || o.Limit > MaxUsersPageSize {
		return MaxUsersPageSize
	}
	return o.Limit
}

func (o ListUsersOptions) query() url.Values {
	q := url.Values{}
	q.Set("start", strconv.Itoa(max(o.Start, 0)))
	q.Set("limit", strconv.Itoa(o.pageSize()))
	if o.OrgID != "" {
		q.Set("orgId", o.OrgID)
	}
	if o.IsRecursive {
		q.Set("isRecursive", "true")
	}
	return q
}

// ListPage returns one page of users. The answer may be a bare array or an
// object with an items array; both are accepted.
func (s *UsersService) ListPage(ctx context.Context, opts ListUsersOptions) ([]User, error) {
	users, _, err := s.listPage(ctx, opts)
	return users, err
}

// listPage also returns the total the answer announced (totalCount in the
// object form), or -1 when it did not.
func (s *UsersService) listPage(ctx context.Context, opts ListUsersOptions) ([]User, int, error) {
	var raw []byte
	if err := s.c.do(ctx, call{method: http.MethodGet, path: "/encompass/v3/users", endpoint: "/encompass/v3/users", query: opts.query()}, nil, &raw); err != nil {
		return nil, -1, fmt.Errorf("list users: %w", err)
	}
	users, total, err := decodeListCap[User](raw, opts.pageSize())
	if err != nil {
		return nil, -1, fmt.Errorf("list users: %w", err)
	}
	return users, total, nil
}

// Paginator returns a paginator over the users opts selects, from
// opts.Start, in pages of opts.Limit (at most and by default
// MaxUsersPageSize). A page shorter than asked, or the answer's totalCount,
// ends the list; a bare-array answer whose last page is exactly full costs
// one more (empty) page. optFns may set PaginatorOptions.InFlight to request
// pages ahead (see PaginatorOptions).
func (s *UsersService) Paginator(opts ListUsersOptions, optFns ...func(*PaginatorOptions)) *Paginator[User] {
	po := PaginatorOptions{Offset: max(opts.Start, 0), Limit: opts.pageSize(), EndAtShortPage: true}
	for _, fn := range optFns {
		fn(&po)
	}
	// The server serves at most MaxUsersPageSize: a larger Limit would make
	// every full page look short, and end the list after the first.
	po.Limit = ListUsersOptions{Limit: po.Limit}.pageSize()
	return NewPaginator(func(ctx context.Context, offset, limit int) (Page[User], error) {
		o := opts
		o.Start, o.Limit = offset, limit
		users, total, err := s.listPage(ctx, o)
		return Page[User]{Items: users, Total: total}, err
	}, po)
}

// All iterates over every user, fetching pages of the maximum size (200) as
// the loop advances (see Paginator for when the list ends). An error is
// yielded once, as the last element. opts may be nil; its Start and Limit
// are ignored.
func (s *UsersService) All(ctx context.Context, opts *ListUsersOptions) iter.Seq2[User, error] {
	var o ListUsersOptions
	if opts != nil {
		o = *opts
	}
	o.Start, o.Limit = 0, MaxUsersPageSize
	return s.Paginator(o).All(ctx)
}

// Get returns the user with the given id (the lower-case login id).
func (s *UsersService) Get(ctx context.Context, id string) (*User, error) {
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	var u User
	if err := s.c.do(ctx, call{method: http.MethodGet, path: "/encompass/v3/users/" + url.PathEscape(id), endpoint: "/encompass/v3/users/{id}"}, nil, &u); err != nil {
		return nil, fmt.Errorf("get user %s: %w", id, err)
	}
	return &u, nil
}

// FindByLoginID returns the user whose login id equals loginID
// (case-insensitively), or an error matching ErrNotFound. It asks the list
// with the loginId filter and checks the answer on the client side, because
// live tenants silently ignore some filters; when the filter was ignored (the
// page holds only other users) it falls back to GET by id, the lower-case
// login id.
func (s *UsersService) FindByLoginID(ctx context.Context, loginID string) (*User, error) {
	if err := checkID(loginID); err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	q := url.Values{"loginId": {loginID}, "start": {"0"}, "limit": {strconv.Itoa(findPageSize)}}
	var raw []byte
	if err := s.c.do(ctx, call{method: http.MethodGet, path: "/encompass/v3/users", endpoint: "/encompass/v3/users", query: q}, nil, &raw); err != nil {
		return nil, fmt.Errorf("find user %s: %w", loginID, err)
	}
	page, err := decodeList[User](raw)
	if err != nil {
		return nil, fmt.Errorf("find user %s: %w", loginID, err)
	}
	for _, u := range page {
		if strings.EqualFold(u.LoginID, loginID) {
			return &u, nil
		}
	}
	if len(page) == 0 {
		return nil, fmt.Errorf("find user %s: %w", loginID, ErrNotFound)
	}
	// The filter was ignored: the id is the lower-case login id.
	u, err := s.Get(ctx, strings.ToLower(loginID))
	if err != nil {
		return nil, fmt.Errorf("find user %s: %w", loginID, err)
	}
	if !strings.EqualFold(u.LoginID, loginID) {
		return nil, fmt.Errorf("find user %s: server answered user %s: %w", loginID, u.ID, ErrNotFound)
	}
	return u, nil
}

// findPageSize is the page asked for by FindByLoginID: a login id is unique,
// so a working filter answers one user; a small page keeps an ignored filter
// cheap.
const findPageSize = 10

// Create creates a user and returns it as the server answered. If the
// request was sent but its outcome is unknown (timeout, dropped connection),
// Create looks the login id up before re-sending, so it never creates twice:
// it returns the user found, or re-sends when there is none.
func (s *UsersService) Create(ctx context.Context, u User) (*User, error) {
	if u.LoginID == "" {
		return nil, fmt.Errorf("create user: loginId is required: %w", ErrInvalidArgument)
	}
	var out User
	var location string
	cl := call{method: http.MethodPost, path: "/encompass/v3/users", endpoint: "/encompass/v3/users", create: true,
		onResponse: func(resp *http.Response) { location = resp.Header.Get("Location") },
		lookup: func(ctx context.Context) (bool, error) {
			found, err := s.FindByLoginID(ctx, u.LoginID)
			if err != nil {
				return false, err
			}
			out = *found
			return true, nil
		}}
	if err := s.c.do(ctx, cl, u, &out); err != nil {
		return nil, fmt.Errorf("create user %s: %w", u.LoginID, err)
	}
	// Some tenants answer 201 with only a Location header: fill in what
	// the caller needs to address the user.
	if out.ID == "" {
		out.ID = strings.ToLower(u.LoginID)
		if i := strings.LastIndexByte(location, '/'); i >= 0 && i < len(location)-1 {
			if id, err := url.PathUnescape(location[i+1:]); err == nil {
				out.ID = id
			}
		}
	}
	if out.LoginID == "" {
		out.LoginID = u.LoginID
	}
	return &out, nil
}

// Patch changes only the given fields of user id. The answer carries the id
// and the fields that were sent (not the whole user); use Get for the rest.
func (s *UsersService) Patch(ctx context.Context, id string, patch UserPatch) (*User, error) {
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("patch user: %w", err)
	}
	if len(patch) == 0 {
		return nil, fmt.Errorf("patch user %s: empty patch: %w", id, ErrInvalidArgument)
	}
	var u User
	if err := s.c.do(ctx, call{method: http.MethodPatch, path: "/encompass/v3/users/" + url.PathEscape(id), endpoint: "/encompass/v3/users/{id}"}, patch, &u); err != nil {
		return nil, fmt.Errorf("patch user %s: %w", id, err)
	}
	return &u, nil
}

// SetEnabled enables or disables user id (v3 PATCH of `enabled`).
func (s *UsersService) SetEnabled(ctx context.Context, id string, enabled bool) (*User, error) {
	return s.Patch(ctx, id, UserPatch{"enabled": enabled})
}

// checkID rejects ids that would change the request path.
func checkID(id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("empty id: %w", ErrInvalidArgument)
	}
	if len(id) > 256 || strings.ContainsAny(id, "/?#\\\x00\r\n") {
		return fmt.Errorf("invalid id %q: %w", truncate(id, 40), ErrInvalidArgument)
	}
	return nil
}

// decodeList decodes a bare JSON array or an object carrying the array under
// items (or another common wrapper key).
func decodeList[T any](raw []byte) ([]T, error) {
	out, _, err := decodeListCap[T](raw, 0)
	return out, err
}

// decodeListCap is decodeList with a capacity hint (encoding/json appends
// into the slice it is given, so a page-sized slice avoids regrowing it)
// that also returns the object form's totalCount (or total), -1 when the
// answer has none. The object form is decoded in one pass: no map of raw
// values, no copy of the items array.
func decodeListCap[T any](raw []byte, capHint int) ([]T, int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, -1, nil
	}
	if raw[0] == '[' {
		out := make([]T, 0, capHint)
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, -1, fmt.Errorf("decode list: %w", err)
		}
		return out, -1, nil
	}
	// Field names match keys case-insensitively ("items" and "Items").
	var w struct {
		Items      presentList[T]  `json:"items"`
		Data       presentList[T]  `json:"data"`
		Users      presentList[T]  `json:"users"`
		Results    presentList[T]  `json:"results"`
		Resources  presentList[T]  `json:"Resources"`
		TotalCount json.RawMessage `json:"totalCount"`
		Total      json.RawMessage `json:"total"`
	}
	w.Items.hint = capHint
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, -1, fmt.Errorf("decode list: %w", err)
	}
	total := -1
	for _, v := range []json.RawMessage{w.TotalCount, w.Total} {
		if s, err := flexString(v); err == nil && s != "" {
			if n, err := strconv.Atoi(s); err == nil && n >= 0 {
				total = n
				break
			}
		}
	}
	for _, l := range []*presentList[T]{&w.Items, &w.Data, &w.Users, &w.Results, &w.Resources} {
		if l.set {
			return l.v, total, nil
		}
	}
	return nil, -1, fmt.Errorf("decode list: no items array in object answer")
}

// presentList is a list field that remembers whether the answer had it.
type presentList[T any] struct {
	set  bool
	hint int
	v    []T
}

// UnmarshalJSON decodes the array into a slice of the hinted capacity.
func (p *presentList[T]) UnmarshalJSON(b []byte) error {
	p.set = true
	if p.v == nil && p.hint > 0 {
		p.v = make([]T, 0, p.hint)
	}
	return json.Unmarshal(b, &p.v)
}

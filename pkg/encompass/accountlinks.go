package encompass

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// MaxAccountLinkUserNameLength is the longest userName the Account Links API
// takes ("Max length: 16", ICE's "Post Account Links Request Contract").
const MaxAccountLinkUserNameLength = 16

// AccountLinksService is the SCIM Account Links API (/scim2/v1/accountLinks,
// Encompass 24.2+): it gives an existing product user that was not created
// through SCIM a global user id, links a user to an existing one, and lists
// the accounts a global user id is linked to. ICE's usage notes, followed
// here: a global user id can be created only for a user not linked yet, for
// one user and one product at a time, and every call carries both the core
// schema and the product's link schema. docs/client.md lists the shapes
// ICE's pages leave open and what this client assumes for each.
type AccountLinksService struct{ c *Client }

// AccountLink is one account a global user id is linked to: a product's
// userName and the product's schema (SchemaEncompassUser or SchemaAIQUser).
type AccountLink struct {
	UserName string
	Schema   string
}

// AccountLinks are the accounts linked to one global user id.
type AccountLinks struct {
	GlobalUserID string
	Links        []AccountLink
}

// UserName returns the userName linked for the product schema ("" if none).
func (l AccountLinks) UserName(schema string) string {
	for _, a := range l.Links {
		if strings.EqualFold(a.Schema, schema) {
			return a.UserName
		}
	}
	return ""
}

// accountLinkRequest is the body of POST /scim2/v1/accountLinks[/{guid}]:
// both schemas, and the product user's userName.
type accountLinkRequest struct {
	Schemas  []string `json:"schemas"`
	UserName string   `json:"userName"`
}

func newAccountLinkRequest(userName, productSchema string) (accountLinkRequest, error) {
	switch {
	case productSchema != SchemaEncompassUser && productSchema != SchemaAIQUser:
		return accountLinkRequest{}, fmt.Errorf("product schema %q is not a linkable product: %w", truncate(productSchema, 80), ErrInvalidArgument)
	case strings.TrimSpace(userName) == "" || len(userName) > MaxAccountLinkUserNameLength:
		return accountLinkRequest{}, fmt.Errorf("userName %q must be 1 to %d characters: %w", truncate(userName, 40), MaxAccountLinkUserNameLength, ErrInvalidArgument)
	}
	if err := CheckUserName(userName); err != nil {
		return accountLinkRequest{}, fmt.Errorf("userName %q: %w: %w", truncate(userName, 40), err, ErrInvalidArgument)
	}
	return accountLinkRequest{Schemas: []string{SchemaCoreUser, productSchema}, UserName: userName}, nil
}

// Create creates a global user id for the product user userName (POST
// /scim2/v1/accountLinks) and returns it. A user linked already (created
// through SCIM, or linked before) is refused by ICE: the error matches
// ErrConflict, and the caller looks the existing id up (SCIM Get Users with
// the userName filter, as ICE advises). An unknown outcome is resolved the
// same way before sending again, so that no second id is ever created.
func (s *AccountLinksService) Create(ctx context.Context, userName, productSchema string) (string, error) {
	body, err := newAccountLinkRequest(userName, productSchema)
	if err != nil {
		return "", fmt.Errorf("create account link: %w", err)
	}
	var raw []byte
	var found string
	cl := call{method: http.MethodPost, path: "/scim2/v1/accountLinks", endpoint: "/scim2/v1/accountLinks", create: true,
		lookup: func(ctx context.Context) (bool, error) {
			guid, err := s.lookupGUID(ctx, userName, productSchema)
			if err != nil {
				return false, err
			}
			found = guid
			return true, nil
		}}
	if err := s.c.do(ctx, cl, body, &raw); err != nil {
		return "", fmt.Errorf("create account link for %s: %w", userName, err)
	}
	if len(raw) == 0 && found != "" {
		// The create's answer was lost; the look-up found its id.
		return found, nil
	}
	guid, err := decodeGUID(raw)
	if err != nil {
		return "", fmt.Errorf("create account link for %s: %w", userName, err)
	}
	return guid, nil
}

// Link links the product user userName to the existing global user id guid
// (ICE's "Link User to a SCIM GUID"; the path POST
// /scim2/v1/accountLinks/{globalUserId} is assumed: docs/client.md). ICE
// allows one user per global user id and product schema: a global user id
// that holds a user of that product already is a conflict (ErrConflict).
func (s *AccountLinksService) Link(ctx context.Context, guid, userName, productSchema string) error {
	if err := checkID(guid); err != nil {
		return fmt.Errorf("link account: %w", err)
	}
	body, err := newAccountLinkRequest(userName, productSchema)
	if err != nil {
		return fmt.Errorf("link account: %w", err)
	}
	cl := call{method: http.MethodPost, path: "/scim2/v1/accountLinks/" + url.PathEscape(guid), endpoint: "/scim2/v1/accountLinks/{id}", create: true,
		lookup: func(ctx context.Context) (bool, error) {
			links, err := s.Get(ctx, guid)
			if err != nil {
				return false, err
			}
			if !strings.EqualFold(links.UserName(productSchema), userName) {
				return false, ErrNotFound
			}
			return true, nil
		}}
	if err := s.c.do(ctx, cl, body, nil); err != nil {
		return fmt.Errorf("link %s to %s: %w", userName, guid, err)
	}
	return nil
}

// Get returns the accounts linked to the global user id guid (GET
// /scim2/v1/accountLinks/{globalUserId}): a pairing of each product's
// userName with the product.
func (s *AccountLinksService) Get(ctx context.Context, guid string) (*AccountLinks, error) {
	if err := checkID(guid); err != nil {
		return nil, fmt.Errorf("get account links: %w", err)
	}
	var raw []byte
	if err := s.c.do(ctx, call{method: http.MethodGet, path: "/scim2/v1/accountLinks/" + url.PathEscape(guid), endpoint: "/scim2/v1/accountLinks/{id}"}, nil, &raw); err != nil {
		return nil, fmt.Errorf("get account links %s: %w", guid, err)
	}
	links, err := decodeAccountLinks(raw)
	if err != nil {
		return nil, fmt.Errorf("get account links %s: %w", guid, err)
	}
	if links.GlobalUserID == "" {
		links.GlobalUserID = guid
	}
	return links, nil
}

// lookupGUID finds the global user id of a product user through SCIM Get
// Users with the userName filter (ErrNotFound when the user has none).
func (s *AccountLinksService) lookupGUID(ctx context.Context, userName, productSchema string) (string, error) {
	if productSchema == SchemaAIQUser {
		u, err := s.c.SCIM.FindAIQUserByUserName(ctx, userName)
		if err != nil {
			return "", err
		}
		return u.ID, nil
	}
	u, err := s.c.SCIM.FindUserByUserName(ctx, userName)
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

// decodeGUID reads the global user id of an Account Links answer: the
// top-level `id` (as every SCIM user answer has it) or `globalUserId`.
func decodeGUID(raw []byte) (string, error) {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("decode account link answer: %w", err)
	}
	for _, k := range []string{"id", "globalUserId", "globalUserID"} {
		if s, err := flexString(v[k]); err == nil && s != "" {
			if err := checkID(s); err != nil {
				return "", fmt.Errorf("account link answer: global user id: %w", err)
			}
			return s, nil
		}
	}
	return "", errors.New("account link answer carries no global user id (id or globalUserId)")
}

// decodeAccountLinks reads the linked accounts of a global user id. ICE
// documents the content (each product's userName), not the shape, so two
// are accepted: the SCIM resource shape (one object per product schema,
// keyed by the schema URN, holding userName), and a list of {userName,
// schema} objects under links, accounts or Resources.
func decodeAccountLinks(raw []byte) (*AccountLinks, error) {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decode account links: %w", err)
	}
	out := &AccountLinks{}
	for _, k := range []string{"id", "globalUserId"} {
		if s, err := flexString(v[k]); err == nil && s != "" {
			out.GlobalUserID = s
			break
		}
	}
	for k, body := range v {
		if !strings.HasPrefix(strings.ToLower(k), "urn:") || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			continue
		}
		var p struct {
			UserName string `json:"userName"`
			ID       string `json:"id"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, fmt.Errorf("decode account links %s: %w", k, err)
		}
		out.Links = append(out.Links, AccountLink{UserName: firstNonEmpty(p.UserName, p.ID), Schema: k})
	}
	for _, k := range []string{"links", "accounts", "Resources", "accountLinks"} {
		list, ok := v[k]
		if !ok {
			continue
		}
		var items []struct {
			UserName string   `json:"userName"`
			Schema   string   `json:"schema"`
			Product  string   `json:"product"`
			Schemas  []string `json:"schemas"`
		}
		if err := json.Unmarshal(list, &items); err != nil {
			return nil, fmt.Errorf("decode account links %s: %w", k, err)
		}
		for _, it := range items {
			schema := firstNonEmpty(it.Schema, it.Product)
			if schema == "" {
				for _, sc := range it.Schemas {
					if sc != SchemaCoreUser {
						schema = sc
					}
				}
			}
			out.Links = append(out.Links, AccountLink{UserName: it.UserName, Schema: schema})
		}
	}
	slices.SortFunc(out.Links, func(a, b AccountLink) int { return strings.Compare(a.Schema, b.Schema) })
	return out, nil
}

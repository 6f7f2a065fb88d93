package encompass

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Page sizes of the settings lists.
const (
	maxPersonasPageSize      = 1000
	organizationsPageSize    = 1000
	maxSettingsPagesToFollow = 1000 // guards against a server that never ends a list
)

// Persona is an Encompass persona (a role bundle). Ids differ per instance.
type Persona struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// UnmarshalJSON accepts a numeric or string id.
func (p *Persona) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID   flexID `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("persona: %w", err)
	}
	*p = Persona{ID: string(raw.ID), Name: raw.Name}
	return nil
}

// Organization is an Encompass organization (folder in the org tree).
type Organization struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	ParentID string `json:"parentId,omitempty"`
}

// UnmarshalJSON accepts numeric or string ids and orgName for the name.
func (o *Organization) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID       flexID `json:"id"`
		Name     string `json:"name"`
		OrgName  string `json:"orgName"`
		ParentID flexID `json:"parentId"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	*o = Organization{ID: string(raw.ID), Name: firstNonEmpty(raw.Name, raw.OrgName), ParentID: string(raw.ParentID)}
	return nil
}

// UnknownNamesError reports names that do not exist in the instance, with
// the names that do, so that an operator can fix the mapping at once.
type UnknownNamesError struct {
	// Kind is "persona", "organization" or "group".
	Kind    string
	Unknown []string
	Known   []string
}

// Error implements error.
func (e *UnknownNamesError) Error() string {
	return fmt.Sprintf("unknown %s names %q (known: %q)", e.Kind, e.Unknown, e.Known)
}

// Is makes an UnknownNamesError match ErrNotFound.
func (e *UnknownNamesError) Is(target error) bool { return target == ErrNotFound }

// PersonasService lists personas and resolves names to ids.
type PersonasService struct {
	c     *Client
	cache nameCache
}

// List returns every persona, following start/limit pages.
func (s *PersonasService) List(ctx context.Context) ([]Persona, error) {
	return listSettings[Persona](ctx, s.c, "personas", "/encompass/v3/settings/personas", maxPersonasPageSize)
}

// Resolve maps persona names (case-insensitive) to ids. The list is fetched
// once per Client; unknown names give an *UnknownNamesError.
func (s *PersonasService) Resolve(ctx context.Context, names []string) (map[string]string, error) {
	idx, err := s.cache.load(ctx, func(ctx context.Context, add func(name, id string)) error {
		list, err := s.List(ctx)
		for _, p := range list {
			add(p.Name, p.ID)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("resolve personas: %w", err)
	}
	return idx.resolve("persona", names)
}

// OrganizationsService lists organizations and resolves names to ids.
type OrganizationsService struct {
	c     *Client
	cache nameCache
}

// List returns every organization, following start/limit pages.
func (s *OrganizationsService) List(ctx context.Context) ([]Organization, error) {
	return listSettings[Organization](ctx, s.c, "organizations", "/encompass/v1/organizations", organizationsPageSize)
}

// listSettings follows the start/limit pages of a settings list until a
// short page ends it. The answers' totals are not trusted here (they were
// never needed: a short page always ends these lists).
func listSettings[T any](ctx context.Context, c *Client, what, path string, pageSize int) ([]T, error) {
	fetch := func(ctx context.Context, offset, limit int) (Page[T], error) {
		q := url.Values{"start": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(limit)}}
		var raw []byte
		if err := c.do(ctx, call{method: http.MethodGet, path: path, endpoint: path, query: q}, nil, &raw); err != nil {
			return Page[T]{}, err
		}
		items, err := decodeList[T](raw)
		return Page[T]{Items: items, Total: -1}, err
	}
	pages := NewPaginator(fetch, PaginatorOptions{Limit: pageSize, EndAtShortPage: true, MaxPages: maxSettingsPagesToFollow})
	var all []T
	for item, err := range pages.All(ctx) {
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, err)
		}
		all = append(all, item)
	}
	return all, nil
}

// Resolve maps organization names (case-insensitive) to ids. The list is
// fetched once per Client; unknown names give an *UnknownNamesError.
func (s *OrganizationsService) Resolve(ctx context.Context, names []string) (map[string]string, error) {
	idx, err := s.cache.load(ctx, func(ctx context.Context, add func(name, id string)) error {
		list, err := s.List(ctx)
		for _, o := range list {
			add(o.Name, o.ID)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("resolve organizations: %w", err)
	}
	return idx.resolve("organization", names)
}

// nameCache holds a name -> id index loaded once per Client. A failed load
// is not cached, so a cold start that hit a throttle can try again.
type nameCache struct {
	mu    sync.Mutex
	index *nameIndex
}

type nameIndex struct {
	ids   map[string]string // lower-case name -> id
	known []string
}

// load returns the cached index, or builds it from the names and ids that
// fetch passes to add; nothing is cached when fetch fails.
func (c *nameCache) load(ctx context.Context, fetch func(ctx context.Context, add func(name, id string)) error) (*nameIndex, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.index != nil {
		return c.index, nil
	}
	idx := &nameIndex{ids: map[string]string{}}
	if err := fetch(ctx, func(name, id string) {
		idx.ids[strings.ToLower(name)] = id
		idx.known = append(idx.known, name)
	}); err != nil {
		return nil, err
	}
	slices.Sort(idx.known)
	c.index = idx
	return c.index, nil
}

// resolve returns the ids of names keyed by the names as given.
func (idx *nameIndex) resolve(kind string, names []string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	var unknown []string
	for _, n := range names {
		id, ok := idx.ids[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		out[n] = id
	}
	if len(unknown) > 0 {
		return nil, &UnknownNamesError{Kind: kind, Unknown: unknown, Known: slices.Clone(idx.known)}
	}
	return out, nil
}

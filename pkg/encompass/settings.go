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
		ID   json.RawMessage `json:"id"`
		Name string          `json:"name"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("persona: %w", err)
	}
	id, err := flexString(raw.ID)
	if err != nil {
		return fmt.Errorf("persona id: %w", err)
	}
	*p = Persona{ID: id, Name: raw.Name}
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
		ID       json.RawMessage `json:"id"`
		Name     string          `json:"name"`
		OrgName  string          `json:"orgName"`
		ParentID json.RawMessage `json:"parentId"`
		Parent   json.RawMessage `json:"parent"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	id, err := flexString(raw.ID)
	if err != nil {
		return fmt.Errorf("organization id: %w", err)
	}
	parent, err := flexString(raw.ParentID)
	if err != nil {
		return fmt.Errorf("organization parentId: %w", err)
	}
	*o = Organization{ID: id, Name: firstNonEmpty(raw.Name, raw.OrgName), ParentID: parent}
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
	var all []Persona
	for start, pages := 0, 0; pages < maxSettingsPagesToFollow; pages++ {
		q := url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(maxPersonasPageSize)}}
		var raw []byte
		if err := s.c.do(ctx, call{method: http.MethodGet, path: "/encompass/v3/settings/personas", endpoint: "/encompass/v3/settings/personas", query: q}, nil, &raw); err != nil {
			return nil, fmt.Errorf("list personas: %w", err)
		}
		page, err := decodeList[Persona](raw)
		if err != nil {
			return nil, fmt.Errorf("list personas: %w", err)
		}
		all = append(all, page...)
		if len(page) < maxPersonasPageSize {
			return all, nil
		}
		start += len(page)
	}
	return nil, fmt.Errorf("list personas: more than %d pages", maxSettingsPagesToFollow)
}

// Resolve maps persona names (case-insensitive) to ids. The list is fetched
// once per Client; unknown names give an *UnknownNamesError.
func (s *PersonasService) Resolve(ctx context.Context, names []string) (map[string]string, error) {
	idx, err := s.cache.load(ctx, func(ctx context.Context) (map[string]string, []string, error) {
		list, err := s.List(ctx)
		if err != nil {
			return nil, nil, err
		}
		m := make(map[string]string, len(list))
		known := make([]string, 0, len(list))
		for _, p := range list {
			m[strings.ToLower(p.Name)] = p.ID
			known = append(known, p.Name)
		}
		return m, known, nil
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
	var all []Organization
	for start, pages := 0, 0; pages < maxSettingsPagesToFollow; pages++ {
		q := url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(organizationsPageSize)}}
		var raw []byte
		if err := s.c.do(ctx, call{method: http.MethodGet, path: "/encompass/v1/organizations", endpoint: "/encompass/v1/organizations", query: q}, nil, &raw); err != nil {
			return nil, fmt.Errorf("list organizations: %w", err)
		}
		page, err := decodeList[Organization](raw)
		if err != nil {
			return nil, fmt.Errorf("list organizations: %w", err)
		}
		all = append(all, page...)
		if len(page) < organizationsPageSize {
			return all, nil
		}
		start += len(page)
	}
	return nil, fmt.Errorf("list organizations: more than %d pages", maxSettingsPagesToFollow)
}

// Resolve maps organization names (case-insensitive) to ids. The list is
// fetched once per Client; unknown names give an *UnknownNamesError.
func (s *OrganizationsService) Resolve(ctx context.Context, names []string) (map[string]string, error) {
	idx, err := s.cache.load(ctx, func(ctx context.Context) (map[string]string, []string, error) {
		list, err := s.List(ctx)
		if err != nil {
			return nil, nil, err
		}
		m := make(map[string]string, len(list))
		known := make([]string, 0, len(list))
		for _, o := range list {
			m[strings.ToLower(o.Name)] = o.ID
			known = append(known, o.Name)
		}
		return m, known, nil
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

func (c *nameCache) load(ctx context.Context, fetch func(context.Context) (map[string]string, []string, error)) (*nameIndex, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.index != nil {
		return c.index, nil
	}
	ids, known, err := fetch(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(known)
	c.index = &nameIndex{ids: ids, known: known}
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

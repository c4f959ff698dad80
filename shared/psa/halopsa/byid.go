package halopsa

import (
	"context"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
)

// byIDSource says where records of T are listed and read one by one.
type byIDSource[T any] struct {
	path  string     // the collection, e.g. "Client"; one record is path/{id}
	key   string     // the list's key for its rows
	query url.Values // extra list parameters; a single read takes none (a
	// single recurring invoice answers with its lines)
	idOf func(T) int64
}

// byID reads the records with the given Halo ids, in as few requests as
// the API allows. Halo lists have no filter by a list of ids, so there
// are two ways: page through the whole list (⌈N/100⌉ requests for N
// records) or read each id (one request each). One id is read directly;
// otherwise the first page tells record_count, and the rest comes from the
// remaining pages or the missing ids, whichever is fewer. Ids Halo does not
// have are absent from the map.
func byID[T any](ctx context.Context, c *Client, ids []int64, src byIDSource[T]) (map[int64]T, error) {
	ids = psa.DistinctIDs(ids)
	out := make(map[int64]T, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	if len(ids) > 1 {
		want := make(map[int64]bool, len(ids))
		for _, id := range ids {
			want[id] = true
		}
		keep := func(rows []T) {
			for _, r := range rows {
				if id := src.idOf(r); want[id] {
					out[id] = r
				}
			}
		}
		missing := func() []int64 {
			var m []int64
			for _, id := range ids {
				if _, ok := out[id]; !ok {
					m = append(m, id)
				}
			}
			return m
		}
		var fromList bool
		err := pages(ctx, c, src.path, src.key, src.query, func(rows []T, total int, counted bool) bool {
			keep(rows)
			if fromList {
				return len(missing()) == 0
			}
			// After the first page: go on listing only when that is
			// cheaper than reading the missing ids one by one.
			left := len(missing())
			more := (total - len(rows) + PageSize - 1) / PageSize
			fromList = counted && left > 0 && more <= left
			return !fromList
		})
		if err != nil {
			return nil, err
		}
		ids = missing()
		if fromList {
			return out, nil // every page was read; the rest do not exist
		}
	}
	return out, readEach(ctx, c, ids, src, out)
}

// readEach reads ids one by one, at most maxParallel at a time, into out.
// NotFound leaves an id absent; any other error stops the rest.
func readEach[T any](ctx context.Context, c *Client, ids []int64, src byIDSource[T], out map[int64]T) error {
	var mu sync.Mutex // guards out
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallel)
	for _, id := range ids {
		g.Go(func() error {
			r, err := get(ctx, c, src.path+"/"+strconv.FormatInt(id, 10), nil, src.idOf)
			if err != nil {
				if apperr.Is(err, apperr.NotFound) {
					return nil
				}
				return err // cancels the rest
			}
			mu.Lock()
			out[id] = r
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// CompaniesByID reads the clients of ids, active or not, by the cheaper
// of listing all clients or reading each id.
func (c *Client) CompaniesByID(ctx context.Context, ids []int64) (map[int64]psa.Company, error) {
	rows, err := byID(ctx, c, ids, byIDSource[areaRow]{path: "Client", key: "clients",
		query: url.Values{"includeactive": {"true"}, "includeinactive": {"true"}}, idOf: areaID})
	if err != nil {
		return nil, err
	}
	out := make(map[int64]psa.Company, len(rows))
	for id, r := range rows {
		out[id] = r.company()
	}
	return out, nil
}

// ContractsByID reads the recurring invoices of ids, disabled or not, by
// the cheaper of listing all recurring invoices or reading each id.
func (c *Client) ContractsByID(ctx context.Context, ids []int64) (map[int64]psa.Contract, error) {
	rows, err := c.headersByID(ctx, ids, false)
	if err != nil {
		return nil, err
	}
	return contractsOf(rows), nil
}

// ContractsWithLines is ContractsByID with the invoices' lines in the same
// requests: the list pages ask for them (includelines=true), a single
// invoice answers with them anyway (docs/HALOPSA.md 5.3, 5.4). It returns
// the state at at of every line of the invoices read, as ReadLines does.
func (c *Client) ContractsWithLines(ctx context.Context, ids []int64, at time.Time) (map[int64]psa.Contract, map[psa.LineRef]psa.LineState, error) {
	rows, err := c.headersByID(ctx, ids, true)
	if err != nil {
		return nil, nil, err
	}
	states := map[psa.LineRef]psa.LineState{}
	for _, h := range rows {
		for _, l := range h.Lines {
			st := l.state(h, at)
			states[st.Ref] = st
		}
	}
	return contractsOf(rows), states, nil
}

// headersByID reads the recurring invoices of psabridge contract ids (ids
// ≤ 0 are none), by Halo header id; withLines lists them with their lines.
func (c *Client) headersByID(ctx context.Context, ids []int64, withLines bool) (map[int64]headerRow, error) {
	var hids []int64
	for _, id := range ids {
		if id > 0 {
			hids = append(hids, -id)
		}
	}
	src := byIDSource[headerRow]{path: "RecurringInvoice", key: "invoices", idOf: headerID}
	if withLines {
		src.query = url.Values{"includelines": {"true"}}
	}
	return byID(ctx, c, hids, src)
}

// contractsOf maps headers by Halo id to contracts by psabridge id.
func contractsOf(rows map[int64]headerRow) map[int64]psa.Contract {
	out := make(map[int64]psa.Contract, len(rows))
	for hid, r := range rows {
		out[contractID(hid)] = r.contract()
	}
	return out
}

package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	gosync "sync"

	"github.com/dirsync/dirsync/target/internal/jsontpl"
	"github.com/dirsync/dirsync/user"
)

const defaultBatchSize = 50

// batcher groups concurrent creates into batch requests without waiting on a
// timer: the first create sends at once and leads; creates arriving while its
// request is in flight queue up and go together in the next request, which the
// leader sends, until the queue is empty. Every user gets its own result.
type batcher struct {
	c          *Client
	body, item *jsontpl.Template

	mu     gosync.Mutex
	queue  []*pending
	leader bool
	// sent counts batch requests and users in them, for tests.
	sent, users int
}

type pending struct {
	u    user.User
	done chan batchResult
}

type batchResult struct {
	acct user.Account
	err  error
}

func (b *batcher) create(ctx context.Context, u user.User) (user.Account, error) {
	p := &pending{u: u, done: make(chan batchResult, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	lead := !b.leader
	b.leader = true
	b.mu.Unlock()
	if lead {
		b.lead(ctx)
	}
	select {
	case r := <-p.done:
		return r.acct, r.err
	case <-ctx.Done():
		return user.Account{}, fmt.Errorf("rest batch create user: %w", ctx.Err())
	}
}

func (b *batcher) size() int {
	if b.c.p.BatchCreate.Size > 0 {
		return b.c.p.BatchCreate.Size
	}
	return defaultBatchSize
}

func (b *batcher) lead(ctx context.Context) {
	for {
		b.mu.Lock()
		n := min(len(b.queue), b.size())
		if n == 0 {
			b.leader = false
			b.mu.Unlock()
			return
		}
		group := slices.Clone(b.queue[:n])
		b.queue = b.queue[n:]
		b.sent++
		b.users += n
		b.mu.Unlock()
		results := b.send(ctx, group)
		for i, p := range group {
			p.done <- results[i]
		}
	}
}

// send sends one batch and returns each user's result, in order.
func (b *batcher) send(ctx context.Context, group []*pending) []batchResult {
	const op = "rest batch create user"
	bc := b.c.p.BatchCreate
	out := make([]batchResult, len(group))
	fail := func(err error) []batchResult {
		for i := range out {
			out[i].err = err
		}
		return out
	}
	items := make([]json.RawMessage, len(group))
	for i, p := range group {
		raw, err := b.item.Render(func(ref string) any { return b.c.value(p.u, "", ref) })
		if err != nil {
			return fail(fmt.Errorf("%s: %w", op, err))
		}
		items[i] = raw
	}
	body, err := b.body.Render(func(string) any { return items })
	if err != nil {
		return fail(fmt.Errorf("%s: %w", op, err))
	}
	q := url.Values{}
	for _, kv := range bc.Query {
		k, v, _ := strings.Cut(kv, "=")
		q.Add(k, v)
	}
	v, err := b.c.call(ctx, op, bc.Method, bc.Path, q, body)
	if err != nil {
		return fail(err)
	}
	raw, _ := get(v, bc.Results)
	results, ok := raw.([]any)
	if !ok {
		return fail(fmt.Errorf("%s: %s %s: the response holds no results list at %q; check target.rest.batch_create.results",
			op, bc.Method, b.c.http.URL(bc.Path), bc.Results))
	}
	byEmail := map[string]any{}
	if bc.Match != "" {
		for _, r := range results {
			byEmail[strings.ToLower(text(get(r, bc.Match)))] = r
		}
	}
	for i, p := range group {
		var r any
		if bc.Match != "" {
			r = byEmail[strings.ToLower(p.u.Email)]
		} else if i < len(results) {
			r = results[i]
		}
		switch {
		case r == nil:
			out[i].err = fmt.Errorf("%s %s: the platform returned no result for this user", op, p.u.Username)
		case bc.Error != "" && present(get(r, bc.Error)):
			out[i].err = b.c.itemError(op, bc.Method, bc.Path, text(get(r, bc.Error)), r)
		default:
			id := text(get(r, bc.ID))
			if id == "" {
				out[i].err = fmt.Errorf("%s %s: the result holds no id at %q; check target.rest.batch_create.id", op, p.u.Username, bc.ID)
				continue
			}
			u := p.u
			u.Active = true
			out[i].acct = user.Account{PlatformID: id, User: u}
		}
	}
	return out
}

// BatchStats returns how many batch requests were sent and the users in them.
func (c *Client) BatchStats() (requests, users int) {
	if c.batch == nil {
		return 0, 0
	}
	c.batch.mu.Lock()
	defer c.batch.mu.Unlock()
	return c.batch.sent, c.batch.users
}

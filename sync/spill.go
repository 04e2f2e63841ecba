package sync

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dirsync/dirsync/user"
)

// listedCreates is how many creates a run that is not a dry run holds in
// its plan, listed in the report. Past it, the creates of users new to the
// snapshot are written to a spill file as they are read, and applied from
// it once the plan has passed the safety check: an initial sync of a large
// directory holds none of them in memory (Plan.Streamed counts them; the
// journal lists each).
const listedCreates = 1000

// createSpill holds creates on disk, in a temporary file (in TMPDIR) that
// is removed as soon as it is open: nothing is left behind, whatever ends
// the process.
type createSpill struct {
	f   *os.File
	w   *bufio.Writer
	enc *gob.Encoder
	n   int
	err error // the first write error: every later add is refused
	// skip holds the IDs of spilled users withdrawn from the read (see
	// drop): each passes them over.
	skip    map[string]bool
	skipped int
}

// newCreateSpill opens an empty spill in dir (os.TempDir() when empty).
func newCreateSpill(dir string) (*createSpill, error) {
	f, err := os.CreateTemp(dir, "dirsync-creates-*")
	if err != nil {
		return nil, err
	}
	// Unlinked at once: the open file lives until it is closed.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	return &createSpill{f: f, w: w, enc: gob.NewEncoder(w)}, nil
}

// add writes u to the spill. After a failed write, it fails again.
func (s *createSpill) add(u user.User) error {
	if s.err == nil {
		if err := s.enc.Encode(&u); err != nil {
			s.err = fmt.Errorf("write a create to the spill file in %s (TMPDIR): %w", os.TempDir(), err)
		} else {
			s.n++
		}
	}
	return s.err
}

// each calls fn with the spilled users, in the order they were added, in
// batches of at most size. It may be called more than once; add may not be
// called after it.
func (s *createSpill) each(size int, fn func(batch []user.User) error) error {
	if s == nil || s.n == 0 {
		return s.failed()
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write the spill file of creates: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read the spill file of creates: %w", err)
	}
	dec := gob.NewDecoder(bufio.NewReaderSize(s.f, 256<<10))
	batch := make([]user.User, 0, size)
	for read := 0; read < s.n; read++ {
		var u user.User
		if err := dec.Decode(&u); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read the spill file of creates (%d of %d read): %w", read, s.n, err)
		}
		if s.skip[u.ID] {
			continue
		}
		if batch = append(batch, u); len(batch) == size {
			if err := fn(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// drop withdraws the users of ids from the spill (the read withdrew them
// after it emitted them: they are skipped entries now) and returns how many
// of them the spill held.
func (s *createSpill) drop(ids map[string]bool) (int, error) {
	if s == nil || len(ids) == 0 {
		return 0, nil
	}
	n := 0
	err := s.each(1024, func(batch []user.User) error {
		for _, u := range batch {
			if ids[u.ID] {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.skip, s.skipped = ids, n
	return n, nil
}

// len returns how many creates the spill holds, those dropped excluded.
func (s *createSpill) len() int {
	if s == nil {
		return 0
	}
	return s.n - s.skipped
}

// failed returns the spill's write error, if any.
func (s *createSpill) failed() error {
	if s == nil {
		return nil
	}
	return s.err
}

// close closes and so deletes the spill (nil: nothing to do).
func (s *createSpill) close() {
	if s != nil {
		s.f.Close()
	}
}

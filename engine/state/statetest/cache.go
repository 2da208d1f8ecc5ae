package statetest

import (
	"bytes"
	"context"
	"testing"
)

// TestCache runs the result cache's tests.
func TestCache(t *testing.T, b Backend) {
	t.Run("PerProjectFirstWinsAndDurable", func(t *testing.T) { cacheBasics(t, b) })
}

// cacheBasics: an answer is found under its project and key only, the
// first answer stored for a key is kept, and a second handle (a restart,
// another replica) sees it.
func cacheBasics(t *testing.T, b Backend) {
	ctx := context.Background()
	s, reopen := open(t, b)
	c := s.Cache()
	if _, _, ok, err := c.Get(ctx, "p", "k"); ok || err != nil {
		t.Fatalf("Get on an empty cache = %v, %v", ok, err)
	}
	if err := c.Put(ctx, "p", "k", "q_1", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "p", "k", "q_2", []byte(`{"a":2}`)); err != nil {
		t.Fatal(err)
	}
	body, id, ok, err := c.Get(ctx, "p", "k")
	if err != nil || !ok || id != "q_1" || !bytes.Equal(body, []byte(`{"a":1}`)) {
		t.Errorf("Get = %s, %q, %v, %v; want the first answer of q_1", body, id, ok, err)
	}
	if _, _, ok, err := c.Get(ctx, "other", "k"); ok || err != nil {
		t.Errorf("another project's Get = %v, %v; want nothing", ok, err)
	}
	if err := c.Put(ctx, "", "k", "q", []byte("x")); err == nil {
		t.Error("Put without a project succeeded")
	}
	body, id, ok, err = reopen(t).Cache().Get(ctx, "p", "k")
	if err != nil || !ok || id != "q_1" || !bytes.Equal(body, []byte(`{"a":1}`)) {
		t.Errorf("Get through a second handle = %s, %q, %v, %v", body, id, ok, err)
	}
}

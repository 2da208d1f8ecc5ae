package tokens

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"
)

func TestIssueAndHashOf(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tok, rec, err := Issue("ingrid", now, &CreateOptions{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h, ok := HashOf(tok)
	if !ok || h != rec.Hash || h != sha256.Sum256([]byte(tok)) {
		t.Errorf("HashOf(token) = %x, %v; want the record's hash", h, ok)
	}
	if rec.Principal != "ingrid" || !rec.CreatedAt.Equal(now) || !rec.ExpiresAt.Equal(now.Add(time.Hour)) || len(rec.ID) != 12 {
		t.Errorf("Record = %+v", rec)
	}
	if _, ok := HashOf(tok[:len(tok)-1]); ok {
		t.Error("HashOf accepted a truncated token")
	}
	if _, _, err := Issue("in grid", now, nil); !errors.Is(err, ErrBadPrincipal) {
		t.Errorf("Issue(bad principal) = %v", err)
	}
	if _, _, err := Issue("ingrid", now, &CreateOptions{TTL: -time.Second}); !errors.Is(err, ErrBadTTL) {
		t.Errorf("Issue(negative TTL) = %v", err)
	}
}

func TestRecordCheck(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		desc    string
		rec     Record
		wantOK  bool
		wantErr error
	}{
		{"active", Record{}, true, nil},
		{"before expiry", Record{ExpiresAt: at.Add(time.Second)}, true, nil},
		{"at expiry", Record{ExpiresAt: at}, false, ErrExpired},
		{"revoked", Record{RevokedAt: at.Add(-time.Hour)}, false, nil},
		{"revoked and expired", Record{RevokedAt: at.Add(-time.Hour), ExpiresAt: at.Add(-time.Minute)}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ok, err := tc.rec.Check(at)
			if ok != tc.wantOK || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("Check = %v, %v; want %v, %v", ok, err, tc.wantOK, tc.wantErr)
			}
		})
	}
}

func TestThrottle(t *testing.T) {
	var th Throttle
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		desc   string
		stored time.Time
		now    time.Time
		want   bool
	}{
		{"never used", time.Time{}, at, true},
		{"written by this process a second ago", time.Time{}, at.Add(time.Second), false},
		{"stored recently by another process", at.Add(90 * time.Second), at.Add(100 * time.Second), false},
		{"a minute later", at, at.Add(time.Minute), true},
	}
	for _, st := range steps {
		if got := th.Due("id", st.stored, st.now); got != st.want {
			t.Errorf("%s: Due = %v, want %v", st.desc, got, st.want)
		}
	}
	th.Forget("id")
	if !th.Due("id", time.Time{}, at.Add(61*time.Second)) {
		t.Error("after Forget: Due = false, want true")
	}
}

func TestWriteList(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var buf bytes.Buffer
	err := WriteList(&buf, []Info{
		{ID: "0123456789ab", Principal: "ingrid", CreatedAt: at, LastUsed: at.Add(time.Hour)},
		{ID: "ba9876543210", Principal: "ola", CreatedAt: at, Revoked: true, RevokedAt: at.Add(24 * time.Hour)},
		{ID: "00aa00aa00aa", Principal: "kari", CreatedAt: at, ExpiresAt: at.Add(90 * 24 * time.Hour)},
		{ID: "11bb11bb11bb", Principal: "per", CreatedAt: at, ExpiresAt: at.Add(time.Hour), Expired: true, LastUsed: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID            PRINCIPAL  CREATED            EXPIRES            LAST USED          STATUS\n" +
		"0123456789ab  ingrid     2026-03-04 05:06Z  never              2026-03-04 06:06Z  active\n" +
		"ba9876543210  ola        2026-03-04 05:06Z  never              never              revoked 2026-03-05 05:06Z\n" +
		"00aa00aa00aa  kari       2026-03-04 05:06Z  2026-06-02 05:06Z  never              active\n" +
		"11bb11bb11bb  per        2026-03-04 05:06Z  2026-03-04 06:06Z  2026-03-04 05:06Z  expired\n"
	if buf.String() != want {
		t.Errorf("WriteList:\n%s\nwant:\n%s", buf.String(), want)
	}
}

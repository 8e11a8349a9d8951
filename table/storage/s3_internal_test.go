package storage

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table/storage/s3test"
)

// TestS3ListPages lists through many ListObjectsV2 pages, which the acceptance suite's
// few keys never need.
func TestS3ListPages(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	s, err := NewS3(ctx, srv.Bucket, "pages", S3Options{
		Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true,
		AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.pageSize = 2
	var want []string
	for i := range 7 {
		k := fmt.Sprintf("_delta_log/%020d.json", i)
		if err := s.PutIfAbsent(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
		want = append(want, k)
	}
	// A key just outside the prefix, on the page boundary's far side.
	if err := s.PutIfAbsent(ctx, "_delta_log0", nil); err != nil {
		t.Fatal(err)
	}
	list := func(after string) string {
		var got []string
		for o, err := range s.List(ctx, "_delta_log/", after) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, o.Key)
		}
		return strings.Join(got, " ")
	}
	if got := list(""); got != strings.Join(want, " ") {
		t.Fatalf("List = %s\nwant %s", got, strings.Join(want, " "))
	}
	if got := list(want[2]); got != strings.Join(want[3:], " ") {
		t.Fatalf("List after %s = %s\nwant %s", want[2], got, strings.Join(want[3:], " "))
	}
	// Stopping early must not fetch or yield further pages.
	n := 0
	for range s.List(ctx, "_delta_log/", "") {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Fatalf("stopped after %d keys, want 3", n)
	}
}

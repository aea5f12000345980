package transport

import "testing"

// About one chunk per stream, in whole segments, at most maxChunk.
func TestChunkSize(t *testing.T) {
	const seg = 8 << 20
	for _, tc := range []struct {
		n       int64
		streams int
		want    int64
	}{
		{150 << 20, 8, 24 << 20}, // 18.75 MiB rounded up to whole segments
		{1 << 30, 8, 64 << 20},   // capped
		{16 << 20, 8, 8 << 20},   // never below one segment
		{100 << 20, 2, 56 << 20}, // 50 MiB up to 7 segments
		{1 << 20, 4, 8 << 20},
	} {
		if got := chunkSize(tc.n, seg, tc.streams); got != tc.want {
			t.Errorf("chunkSize(%d, %d streams) = %d, want %d", tc.n, tc.streams, got, tc.want)
		}
	}
}

// What chunks cut short leave: every matching segment is kept, wherever it
// lies; the holes and the tail are sent.
func TestGaps(t *testing.T) {
	same := []bool{true, false, true, true, false, false, true}
	todo, kept := gaps(same, 10, 95)
	want := []span{{10, 20}, {40, 60}, {70, 95}}
	if kept != 40 || len(todo) != len(want) {
		t.Fatalf("gaps = %v, kept %d; want %v, kept 40", todo, kept, want)
	}
	for i := range want {
		if todo[i] != want[i] {
			t.Errorf("gap %d = %v, want %v", i, todo[i], want[i])
		}
	}
	if todo, kept := gaps(nil, 10, 25); kept != 0 || len(todo) != 1 || todo[0] != (span{0, 25}) {
		t.Errorf("nothing there: %v, kept %d; want all of it", todo, kept)
	}
}

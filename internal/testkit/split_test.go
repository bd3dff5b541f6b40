package testkit

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

func TestSplitHelpers(t *testing.T) {
	data := []byte("abcdef")
	for _, tc := range []struct {
		name string
		got  [][]byte
		want []string
	}{
		{"Whole", Whole(data), []string{"abcdef"}},
		{"Bytewise", Bytewise(data), []string{"a", "b", "c", "d", "e", "f"}},
		{"SplitAt none", SplitAt(data), []string{"abcdef"}},
		{"SplitAt", SplitAt(data, 0, 2, 2, 6), []string{"", "ab", "", "cdef", ""}},
		{"Chunks", Chunks(data, []byte{0, 1, 7}, 4), []string{"a", "bc", "def"}},
		{"Chunks no sizes", Chunks(data, nil, 4), []string{"a", "b", "c", "d", "e", "f"}},
		{"Chunks last short", Chunks(data, []byte{3}, 16), []string{"abcd", "ef"}},
		{"WithEmptyReads", WithEmptyReads(SplitAt(data, 3)), []string{"", "abc", "", "def", ""}},
		{"Bytewise empty", Bytewise(nil), []string{}},
	} {
		got := []string{}
		for _, c := range tc.got {
			got = append(got, string(c))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func collect(data []byte, o SplitOptions) []Split {
	var out []Split
	for s := range Splits(data, o) {
		out = append(out, s)
	}
	return out
}

func TestSplitsCoverEveryCut(t *testing.T) {
	data := []byte("0123456789")
	n := len(data)
	for _, tc := range []struct {
		o    SplitOptions
		want int
	}{
		{SplitOptions{}, 2 + n + 1},
		{SplitOptions{Pairs: true}, 2 + n + 1 + (n+1)*(n+2)/2},
		{SplitOptions{Random: 7}, 2 + n + 1 + 7},
		{SplitOptions{MaxEvery: n}, 2 + n + 1},
		{SplitOptions{MaxEvery: n - 1, Pairs: true, Random: 5}, 2 + 5},
	} {
		splits := collect(data, tc.o)
		if len(splits) != tc.want {
			t.Errorf("%+v: %d splits, want %d", tc.o, len(splits), tc.want)
		}
		names := map[string]bool{}
		pairs := map[[2]int]bool{}
		for _, s := range splits {
			if !bytes.Equal(bytes.Join(s.Chunks, nil), data) {
				t.Errorf("%+v %s: chunks %q are not the input", tc.o, s.Name, s.Chunks)
			}
			if tc.o.Random == 0 && names[s.Name] {
				t.Errorf("%+v: two splits named %q", tc.o, s.Name)
			}
			names[s.Name] = true
			if len(s.Chunks) == 3 {
				pairs[[2]int{len(s.Chunks[0]), len(s.Chunks[0]) + len(s.Chunks[1])}] = true
			}
		}
		if tc.o.Pairs && (tc.o.MaxEvery == 0 || n <= tc.o.MaxEvery) {
			for i := 0; i <= n; i++ {
				for j := i; j <= n; j++ {
					if !pairs[[2]int{i, j}] {
						t.Errorf("%+v: no cut at %d,%d", tc.o, i, j)
					}
				}
			}
		}
		if splits[0].Name != "whole" || splits[1].Name != "byte by byte" || len(splits[1].Chunks) != n {
			t.Errorf("%+v: first splits %s, %s", tc.o, splits[0].Name, splits[1].Name)
		}
	}
}

func TestSplitsRandomAreReproducible(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 1000)
	names := func(seed uint64) string {
		return fmt.Sprint(collect(data, SplitOptions{MaxEvery: 1, Random: 10, Seed: seed}))
	}
	if names(1) != names(1) {
		t.Fatal("the same seed gave different cuts")
	}
	if names(1) == names(2) {
		t.Fatal("different seeds gave the same cuts")
	}
}

func TestSplitsStopsWhenAsked(t *testing.T) {
	n := 0
	for range Splits([]byte("abc"), SplitOptions{Pairs: true, Random: 3}) {
		if n++; n == 4 {
			break
		}
	}
	if n != 4 {
		t.Fatalf("%d splits after break at 4", n)
	}
}

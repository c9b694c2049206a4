// bboltcheck: the reference bbolt library as a test oracle for
// src/storage/bbolt (the C++ reader and writer).
//
//	bboltcheck check <db>             tx.Check(); errors to stderr, exit 1
//	bboltcheck dump <db>              tx.Check(), then every bucket and key
//	bboltcheck gen <db> sample [ps]   writes a fixed sample (see genSample)
//	bboltcheck gen <db> - [ps]        writes the content of a dump read from stdin
//	bboltcheck modify <db>            read-write: in every top-level bucket deletes
//	                                  the first key and puts "~added", commits,
//	                                  then tx.Check() (our files must stay usable)
//
// gen truncates the file to its high water mark afterwards.
//
// Dump format, one line each, in key order, depth first; names, keys and
// values in lower-case hex ("-" for an empty value), a bucket path as its
// names joined by "/":
//
//	B <path>
//	K <path> <key> <value>
//
// Build (GOPATH mode, the Debian packaged bbolt):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o bboltcheck ./tests/tools/bboltcheck
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "bboltcheck: "+format+"\n", a...)
	os.Exit(1)
}

func hexOr(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

func check(db *bolt.DB) {
	err := db.View(func(tx *bolt.Tx) error {
		bad := 0
		for e := range tx.Check() {
			fmt.Fprintln(os.Stderr, "check:", e)
			bad++
		}
		if bad > 0 {
			return fmt.Errorf("%d check errors", bad)
		}
		return nil
	})
	if err != nil {
		die("%v", err)
	}
}

func dumpBucket(w *bufio.Writer, b *bolt.Bucket, path string) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			child := path + "/" + hex.EncodeToString(k)
			if path == "" {
				child = hex.EncodeToString(k)
			}
			fmt.Fprintf(w, "B %s\n", child)
			return dumpBucket(w, b.Bucket(k), child)
		}
		fmt.Fprintf(w, "K %s %s %s\n", path, hexOr(k), hexOr(v))
		return nil
	})
}

func dump(db *bolt.DB) {
	w := bufio.NewWriter(os.Stdout)
	err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			p := hex.EncodeToString(name)
			fmt.Fprintf(w, "B %s\n", p)
			return dumpBucket(w, b, p)
		})
	})
	if err != nil {
		die("dump: %v", err)
	}
	if err := w.Flush(); err != nil {
		die("dump: %v", err)
	}
}

func decode(s string) []byte {
	if s == "-" {
		return []byte{}
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		die("bad hex %q: %v", s, err)
	}
	return b
}

// bucketAt creates (or opens) the bucket at a "/"-joined hex path.
func bucketAt(tx *bolt.Tx, path string) *bolt.Bucket {
	parts := strings.Split(path, "/")
	b, err := tx.CreateBucketIfNotExists(decode(parts[0]))
	if err != nil {
		die("bucket %s: %v", path, err)
	}
	for _, p := range parts[1:] {
		if b, err = b.CreateBucketIfNotExists(decode(p)); err != nil {
			die("bucket %s: %v", path, err)
		}
	}
	return b
}

func genFromDump(db *bolt.DB) {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	err := db.Update(func(tx *bolt.Tx) error {
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 0:
			case f[0] == "B" && len(f) == 2:
				bucketAt(tx, f[1])
			case f[0] == "K" && len(f) == 4:
				if err := bucketAt(tx, f[1]).Put(decode(f[2]), decode(f[3])); err != nil {
					return err
				}
			default:
				die("bad spec line %q", sc.Text())
			}
		}
		return sc.Err()
	})
	if err != nil {
		die("gen: %v", err)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7) + byte(i>>8)
	}
	return b
}

// genSample writes, in one transaction:
// "empty" (no keys), "small" (inline), "many" (enough keys for branch
// pages), "big" (values of 5 KiB and 9 KiB: overflow pages), "nested"
// (a bucket holding a large and an inline bucket); then, in a second one,
// deletes half of "many" so that freed pages land on the freelist.
func genSample(db *bolt.DB) {
	steps := []func(tx *bolt.Tx) error{
		func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucket([]byte("empty")); err != nil {
				return err
			}
			s, err := tx.CreateBucket([]byte("small"))
			if err != nil {
				return err
			}
			for i := 0; i < 3; i++ {
				if err := s.Put([]byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("v%d", i))); err != nil {
					return err
				}
			}
			return s.Put([]byte("zero"), []byte{})
		},
		func(tx *bolt.Tx) error {
			m, err := tx.CreateBucket([]byte("many"))
			if err != nil {
				return err
			}
			for i := 0; i < 400; i++ {
				if err := m.Put([]byte(fmt.Sprintf("key%06d", i)), []byte(fmt.Sprintf("value-%d", i*i))); err != nil {
					return err
				}
			}
			return nil
		},
		func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("big"))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("a5k"), pattern(5*1024, 1)); err != nil {
				return err
			}
			return b.Put([]byte("b9k"), pattern(9*1024, 2))
		},
		func(tx *bolt.Tx) error {
			n, err := tx.CreateBucket([]byte("nested"))
			if err != nil {
				return err
			}
			if err := n.Put([]byte("plain"), []byte("x")); err != nil {
				return err
			}
			in, err := n.CreateBucket([]byte("inner-inline"))
			if err != nil {
				return err
			}
			if err := in.Put([]byte("a"), []byte("b")); err != nil {
				return err
			}
			lg, err := n.CreateBucket([]byte("inner-large"))
			if err != nil {
				return err
			}
			for i := 0; i < 60; i++ {
				if err := lg.Put([]byte(fmt.Sprintf("n%04d", i)), pattern(40, byte(i))); err != nil {
					return err
				}
			}
			deep, err := lg.CreateBucket([]byte("zz-deeper"))
			if err != nil {
				return err
			}
			return deep.Put([]byte("leaf"), []byte("value"))
		},
		func(tx *bolt.Tx) error {
			m := tx.Bucket([]byte("many"))
			for i := 0; i < 400; i += 2 {
				if err := m.Delete([]byte(fmt.Sprintf("key%06d", i))); err != nil {
					return err
				}
			}
			return nil
		},
	}
	// The buckets in one transaction, the deletes in a second.
	err := db.Update(func(tx *bolt.Tx) error {
		for _, s := range steps[:len(steps)-1] {
			if err := s(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = db.Update(steps[len(steps)-1])
	}
	if err != nil {
		die("gen sample: %v", err)
	}
}

// shrink truncates the file to its high water mark (bbolt grows files in
// large steps; the tail is unused and bbolt grows it again on open), so
// that generated test files stay small.
func shrink(path string) {
	db, err := bolt.Open(path, 0600, &bolt.Options{ReadOnly: true})
	if err != nil {
		die("reopen %s: %v", path, err)
	}
	var size int64
	_ = db.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		return nil
	})
	if err := db.Close(); err != nil {
		die("close: %v", err)
	}
	if err := os.Truncate(path, size); err != nil {
		die("truncate: %v", err)
	}
}

// modify changes every top-level bucket in one read-write transaction.
func modify(db *bolt.DB) {
	err := db.Update(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if k, v := b.Cursor().First(); k != nil {
				if v == nil {
					if err := b.DeleteBucket(k); err != nil {
						return err
					}
				} else if err := b.Delete(k); err != nil {
					return err
				}
			}
			return b.Put([]byte("~added"), []byte("by bboltcheck"))
		})
	})
	if err != nil {
		die("modify: %v", err)
	}
}

func main() {
	if len(os.Args) < 3 {
		die("usage: bboltcheck check|dump|modify <db> | gen <db> sample|- [pagesize]")
	}
	cmd, path := os.Args[1], os.Args[2]
	switch cmd {
	case "check", "dump":
		if _, err := os.Stat(path); err != nil {
			die("%v", err)
		}
		db, err := bolt.Open(path, 0600, &bolt.Options{ReadOnly: true})
		if err != nil {
			die("open %s: %v", path, err)
		}
		defer db.Close()
		check(db)
		if cmd == "dump" {
			dump(db)
		}
	case "modify":
		db, err := bolt.Open(path, 0600, nil)
		if err != nil {
			die("open %s: %v", path, err)
		}
		modify(db)
		check(db)
		if err := db.Close(); err != nil {
			die("close: %v", err)
		}
	case "gen":
		if len(os.Args) < 4 {
			die("usage: bboltcheck gen <db> sample|- [pagesize]")
		}
		opts := &bolt.Options{}
		if len(os.Args) > 4 {
			ps, err := strconv.Atoi(os.Args[4])
			if err != nil {
				die("bad page size %q", os.Args[4])
			}
			opts.PageSize = ps
		}
		db, err := bolt.Open(path, 0600, opts)
		if err != nil {
			die("open %s: %v", path, err)
		}
		if os.Args[3] == "sample" {
			genSample(db)
		} else if os.Args[3] == "-" {
			genFromDump(db)
		} else {
			die("unknown spec %q", os.Args[3])
		}
		if err := db.Close(); err != nil {
			die("close: %v", err)
		}
		shrink(path)
	default:
		die("unknown command %q", cmd)
	}
}

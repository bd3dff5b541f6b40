package redis

import (
	"context"
	"strconv"
	"time"

	"github.com/egress-go/egress/resp"
)

// cmds holds the typed commands shared by Client and Conn. It calls its
// owner directly rather than through a func value, so that the compiler
// can see that the argument slices do not escape: a typed command
// allocates only its result.
type cmds struct {
	cl *Client
	cn *Conn
	cc *ClusterClient
}

func (c *cmds) call(ctx context.Context, conv convFunc, args []string) (*waiter, error) {
	switch {
	case c.cn != nil:
		return c.cn.call(ctx, conv, args)
	case c.cc != nil:
		return c.cc.call(ctx, conv, args)
	}
	return c.cl.call(ctx, conv, args)
}

func (c *cmds) str(ctx context.Context, args ...string) (string, error) {
	w, err := c.call(ctx, convString, args)
	if err != nil {
		return "", err
	}
	s := w.s
	w.recycle()
	return s, nil
}

func (c *cmds) int(ctx context.Context, args ...string) (int64, error) {
	w, err := c.call(ctx, convInt, args)
	if err != nil {
		return 0, err
	}
	n := w.n
	w.recycle()
	return n, nil
}

func (c *cmds) float(ctx context.Context, args ...string) (float64, error) {
	w, err := c.call(ctx, convFloat, args)
	if err != nil {
		return 0, err
	}
	f := w.f
	w.recycle()
	return f, nil
}

func (c *cmds) bool(ctx context.Context, conv convFunc, args ...string) (bool, error) {
	w, err := c.call(ctx, conv, args)
	if err != nil {
		return false, err
	}
	b := w.b
	w.recycle()
	return b, nil
}

func (c *cmds) ok(ctx context.Context, args ...string) error {
	w, err := c.call(ctx, convOK, args)
	if err != nil {
		return err
	}
	w.recycle()
	return nil
}

func (c *cmds) strs(ctx context.Context, args ...string) ([]string, error) {
	w, err := c.call(ctx, convStrings, args)
	if err != nil {
		return nil, err
	}
	ss := w.ss
	w.recycle()
	return ss, nil
}

func (c *cmds) smap(ctx context.Context, args ...string) (map[string]string, error) {
	w, err := c.call(ctx, convMap, args)
	if err != nil {
		return nil, err
	}
	m := w.m
	w.recycle()
	return m, nil
}

func prepend(args []string, head ...string) []string {
	out := make([]string, 0, len(head)+len(args))
	return append(append(out, head...), args...)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ms(d time.Duration) string { return itoa(d.Milliseconds()) }

// Ping checks that the server answers.
func (c *cmds) Ping(ctx context.Context) error {
	_, err := c.str(ctx, "PING")
	return err
}

// Echo returns msg as the server echoes it.
func (c *cmds) Echo(ctx context.Context, msg string) (string, error) {
	return c.str(ctx, "ECHO", msg)
}

// Get returns the value of key, or ErrNil if it does not exist.
func (c *cmds) Get(ctx context.Context, key string) (string, error) {
	return c.str(ctx, "GET", key)
}

// Set sets key to value, with an expiry when ttl > 0 (millisecond
// precision).
func (c *cmds) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if ttl > 0 {
		return c.ok(ctx, "SET", key, value, "PX", ms(ttl))
	}
	return c.ok(ctx, "SET", key, value)
}

// SetNX sets key only if it does not exist, and reports whether it did.
func (c *cmds) SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if ttl > 0 {
		return c.bool(ctx, convOKOrNil, "SET", key, value, "NX", "PX", ms(ttl))
	}
	return c.bool(ctx, convOKOrNil, "SET", key, value, "NX")
}

// MGet returns the values of keys, with "" for a key that does not exist
// (use Do to tell a missing key from an empty value).
func (c *cmds) MGet(ctx context.Context, keys ...string) ([]string, error) {
	return c.strs(ctx, prepend(keys, "MGET")...)
}

// MSet sets several keys: MSet(ctx, k1, v1, k2, v2, ...).
func (c *cmds) MSet(ctx context.Context, pairs ...string) error {
	return c.ok(ctx, prepend(pairs, "MSET")...)
}

// Del deletes keys and returns how many existed.
func (c *cmds) Del(ctx context.Context, keys ...string) (int64, error) {
	return c.int(ctx, prepend(keys, "DEL")...)
}

// Exists returns how many of keys exist.
func (c *cmds) Exists(ctx context.Context, keys ...string) (int64, error) {
	return c.int(ctx, prepend(keys, "EXISTS")...)
}

// Incr increments key by one and returns the new value.
func (c *cmds) Incr(ctx context.Context, key string) (int64, error) {
	return c.int(ctx, "INCR", key)
}

// IncrBy increments key by n and returns the new value.
func (c *cmds) IncrBy(ctx context.Context, key string, n int64) (int64, error) {
	return c.int(ctx, "INCRBY", key, itoa(n))
}

// Decr decrements key by one and returns the new value.
func (c *cmds) Decr(ctx context.Context, key string) (int64, error) {
	return c.int(ctx, "DECR", key)
}

// Expire sets key to expire after ttl (millisecond precision) and reports
// whether the key exists.
func (c *cmds) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return c.bool(ctx, convBool, "PEXPIRE", key, ms(ttl))
}

// Persist removes key's expiry and reports whether it had one.
func (c *cmds) Persist(ctx context.Context, key string) (bool, error) {
	return c.bool(ctx, convBool, "PERSIST", key)
}

// TTL returns the time key has left to live: -1 if it has no expiry, and
// ErrNil if it does not exist.
func (c *cmds) TTL(ctx context.Context, key string) (time.Duration, error) {
	n, err := c.int(ctx, "PTTL", key)
	switch {
	case err != nil:
		return 0, err
	case n == -2:
		return 0, ErrNil
	case n < 0:
		return -1, nil
	}
	return time.Duration(n) * time.Millisecond, nil
}

// HSet sets fields of the hash at key: HSet(ctx, key, f1, v1, f2, v2, ...).
// It returns how many fields were added (not updated).
func (c *cmds) HSet(ctx context.Context, key string, fieldValues ...string) (int64, error) {
	return c.int(ctx, prepend(fieldValues, "HSET", key)...)
}

// HGet returns a field of the hash at key, or ErrNil.
func (c *cmds) HGet(ctx context.Context, key, field string) (string, error) {
	return c.str(ctx, "HGET", key, field)
}

// HGetAll returns the hash at key (empty if it does not exist).
func (c *cmds) HGetAll(ctx context.Context, key string) (map[string]string, error) {
	return c.smap(ctx, "HGETALL", key)
}

// HDel deletes fields of the hash at key and returns how many existed.
func (c *cmds) HDel(ctx context.Context, key string, fields ...string) (int64, error) {
	return c.int(ctx, prepend(fields, "HDEL", key)...)
}

// HIncrBy increments a field of the hash at key by n.
func (c *cmds) HIncrBy(ctx context.Context, key, field string, n int64) (int64, error) {
	return c.int(ctx, "HINCRBY", key, field, itoa(n))
}

// HLen returns the number of fields of the hash at key.
func (c *cmds) HLen(ctx context.Context, key string) (int64, error) {
	return c.int(ctx, "HLEN", key)
}

// LPush prepends values to the list at key and returns its length.
func (c *cmds) LPush(ctx context.Context, key string, values ...string) (int64, error) {
	return c.int(ctx, prepend(values, "LPUSH", key)...)
}

// RPush appends values to the list at key and returns its length.
func (c *cmds) RPush(ctx context.Context, key string, values ...string) (int64, error) {
	return c.int(ctx, prepend(values, "RPUSH", key)...)
}

// LPop removes and returns the first element of the list at key, or
// ErrNil.
func (c *cmds) LPop(ctx context.Context, key string) (string, error) {
	return c.str(ctx, "LPOP", key)
}

// RPop removes and returns the last element of the list at key, or
// ErrNil.
func (c *cmds) RPop(ctx context.Context, key string) (string, error) {
	return c.str(ctx, "RPOP", key)
}

// LRange returns the elements start..stop (inclusive; negative counts from
// the end) of the list at key.
func (c *cmds) LRange(ctx context.Context, key string, start, stop int64) ([]string, error) {
	return c.strs(ctx, "LRANGE", key, itoa(start), itoa(stop))
}

// LLen returns the length of the list at key.
func (c *cmds) LLen(ctx context.Context, key string) (int64, error) {
	return c.int(ctx, "LLEN", key)
}

// BLPop pops the first element of the first non-empty list among keys,
// waiting up to timeout (0: for ever, bounded by ctx) for one. It returns
// the key and the element, or ErrNil when the timeout passed. On a Client
// it runs on a dedicated connection, so it holds up no other command.
func (c *cmds) BLPop(ctx context.Context, timeout time.Duration, keys ...string) (key, value string, err error) {
	return c.bpop(ctx, "BLPOP", timeout, keys)
}

// BRPop is BLPop from the end of the lists.
func (c *cmds) BRPop(ctx context.Context, timeout time.Duration, keys ...string) (key, value string, err error) {
	return c.bpop(ctx, "BRPOP", timeout, keys)
}

func (c *cmds) bpop(ctx context.Context, cmd string, timeout time.Duration, keys []string) (string, string, error) {
	args := append(prepend(keys, cmd), strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	ss, err := c.strs(ctx, args...)
	if err != nil {
		return "", "", err
	}
	if len(ss) != 2 {
		return "", "", &TypeError{Want: "array of 2", Got: "array of " + strconv.Itoa(len(ss))}
	}
	return ss[0], ss[1], nil
}

// SAdd adds members to the set at key and returns how many were new.
func (c *cmds) SAdd(ctx context.Context, key string, members ...string) (int64, error) {
	return c.int(ctx, prepend(members, "SADD", key)...)
}

// SRem removes members from the set at key and returns how many were in
// it.
func (c *cmds) SRem(ctx context.Context, key string, members ...string) (int64, error) {
	return c.int(ctx, prepend(members, "SREM", key)...)
}

// SMembers returns the members of the set at key.
func (c *cmds) SMembers(ctx context.Context, key string) ([]string, error) {
	return c.strs(ctx, "SMEMBERS", key)
}

// SIsMember reports whether member is in the set at key.
func (c *cmds) SIsMember(ctx context.Context, key, member string) (bool, error) {
	return c.bool(ctx, convBool, "SISMEMBER", key, member)
}

// SCard returns the size of the set at key.
func (c *cmds) SCard(ctx context.Context, key string) (int64, error) {
	return c.int(ctx, "SCARD", key)
}

// Z is a member of a sorted set with its score.
type Z struct {
	Member string
	Score  float64
}

// ZAdd adds members to the sorted set at key (or updates their scores)
// and returns how many were new.
func (c *cmds) ZAdd(ctx context.Context, key string, members ...Z) (int64, error) {
	args := make([]string, 0, 2+2*len(members))
	args = append(args, "ZADD", key)
	for _, m := range members {
		args = append(args, strconv.FormatFloat(m.Score, 'g', -1, 64), m.Member)
	}
	return c.int(ctx, args...)
}

// ZScore returns the score of member in the sorted set at key, or ErrNil.
func (c *cmds) ZScore(ctx context.Context, key, member string) (float64, error) {
	return c.float(ctx, "ZSCORE", key, member)
}

// ZIncrBy adds incr to member's score and returns the new score.
func (c *cmds) ZIncrBy(ctx context.Context, key string, incr float64, member string) (float64, error) {
	return c.float(ctx, "ZINCRBY", key, strconv.FormatFloat(incr, 'g', -1, 64), member)
}

// ZRem removes members from the sorted set at key and returns how many
// were in it.
func (c *cmds) ZRem(ctx context.Context, key string, members ...string) (int64, error) {
	return c.int(ctx, prepend(members, "ZREM", key)...)
}

// ZCard returns the size of the sorted set at key.
func (c *cmds) ZCard(ctx context.Context, key string) (int64, error) {
	return c.int(ctx, "ZCARD", key)
}

// ZRank returns member's rank (0 for the lowest score), or ErrNil.
func (c *cmds) ZRank(ctx context.Context, key, member string) (int64, error) {
	return c.int(ctx, "ZRANK", key, member)
}

// ZRange returns the members ranked start..stop (inclusive; negative
// counts from the end), lowest score first.
func (c *cmds) ZRange(ctx context.Context, key string, start, stop int64) ([]string, error) {
	return c.strs(ctx, "ZRANGE", key, itoa(start), itoa(stop))
}

// ZRangeWithScores is ZRange with the scores.
func (c *cmds) ZRangeWithScores(ctx context.Context, key string, start, stop int64) ([]Z, error) {
	w, err := c.call(ctx, convReply, []string{"ZRANGE", key, itoa(start), itoa(stop), "WITHSCORES"})
	if err != nil {
		return nil, err
	}
	defer w.recycle()
	return scoredMembers(w.r.Value())
}

// scoredMembers reads WITHSCORES replies in both shapes: RESP3's array of
// [member, score] pairs and RESP2's flat member, score, member, score.
func scoredMembers(v *resp.Value) ([]Z, error) {
	if v.Type != resp.Array {
		return nil, &TypeError{Want: "array", Got: v.Type.String()}
	}
	pair := func(m, s *resp.Value) (Z, error) {
		name, err := AsString(m)
		if err != nil {
			return Z{}, err
		}
		score, err := AsFloat(s)
		return Z{Member: name, Score: score}, err
	}
	var out []Z
	if len(v.Elems) > 0 && v.Elems[0].Type == resp.Array {
		out = make([]Z, 0, len(v.Elems))
		for i := range v.Elems {
			e := &v.Elems[i]
			if len(e.Elems) != 2 {
				return nil, &TypeError{Want: "member-score pair", Got: e.String()}
			}
			z, err := pair(&e.Elems[0], &e.Elems[1])
			if err != nil {
				return nil, err
			}
			out = append(out, z)
		}
		return out, nil
	}
	if len(v.Elems)%2 != 0 {
		return nil, &TypeError{Want: "member-score pairs", Got: "odd-length array"}
	}
	out = make([]Z, 0, len(v.Elems)/2)
	for i := 0; i < len(v.Elems); i += 2 {
		z, err := pair(&v.Elems[i], &v.Elems[i+1])
		if err != nil {
			return nil, err
		}
		out = append(out, z)
	}
	return out, nil
}

// Publish posts message to channel and returns how many subscribers
// received it.
func (c *cmds) Publish(ctx context.Context, channel, message string) (int64, error) {
	return c.int(ctx, "PUBLISH", channel, message)
}

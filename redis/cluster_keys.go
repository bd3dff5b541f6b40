package redis

import (
	"errors"
	"fmt"
	"strings"
)

// ErrCrossSlot is the error of a command (or a transaction) whose keys
// hash to different cluster slots: no node could run it, so it is refused
// before anything is sent. errors.Is(err, ErrCrossSlot) is true for a
// *CrossSlotError, which says which keys.
var ErrCrossSlot = errors.New("redis: keys in different hash slots (CROSSSLOT)")

// CrossSlotError reports the first two keys of a command that hash to
// different slots. It matches ErrCrossSlot with errors.Is.
type CrossSlotError struct {
	// Command is the command's name as the caller wrote it.
	Command string
	// Keys are the first key of the command and the first that is not in
	// its slot.
	Keys [2]string
	// Slots are the hash slots of Keys.
	Slots [2]int
}

// Error names the command, both keys and their slots.
func (e *CrossSlotError) Error() string {
	return fmt.Sprintf("redis: CROSSSLOT: %s keys %q (slot %d) and %q (slot %d) are in different hash slots",
		e.Command, e.Keys[0], e.Slots[0], e.Keys[1], e.Slots[1])
}

// Is makes errors.Is(err, ErrCrossSlot) true.
func (e *CrossSlotError) Is(target error) bool { return target == ErrCrossSlot }

// crcTable drives CRC16-XMODEM (CCITT polynomial 0x1021, initial value 0,
// no reflection), the checksum Redis Cluster hashes keys with.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// hashSlot returns the cluster slot of key: CRC16 of the key mod 16384,
// or of its hash tag when it has one, so that keys sharing a tag share a
// slot. The tag is what lies between the first '{' and the first '}'
// after it; an empty tag ("{}") does not count and the whole key is
// hashed.
func hashSlot(key string) int {
	s := key
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			s = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^s[i]]
	}
	return int(crc) & 16383 // mod 16384, the number of slots
}

// keySpec says where a command's keys are, as COMMAND reports them in
// Redis 7.0, and whether the command only reads.
type keySpec struct {
	// first is the index of the first key in the arguments (the name is 0);
	// 0 means the command has no key at a fixed place.
	first int8
	// last is the index of the last key; a negative one counts from the
	// end: -1 is the last argument, -2 the one before it.
	last int8
	// step is the distance between keys (2 for MSET's key value pairs).
	step int8
	// ro is COMMAND's "readonly" flag: a replica may serve the command.
	ro bool
	// find, unless ksFixed, names the code that finds keys whose place
	// depends on other arguments (COMMAND's "movablekeys"); first, last
	// and step are then only what COMMAND reports.
	find keyFinder
}

// keyFinder names the ways to find a command's keys.
type keyFinder uint8

const (
	ksFixed       keyFinder = iota // first, last, step
	ksSub                          // a container: the subcommand's entry ("OBJECT|ENCODING") says
	ksNumkeys1                     // numkeys at 1, then the keys (ZUNION, LMPOP, SINTERCARD ...)
	ksNumkeys2                     // numkeys at 2, then the keys (EVAL, FCALL, BLMPOP, BZMPOP)
	ksDestNumkeys                  // a destination key at 1, numkeys at 2, then the keys (ZUNIONSTORE ...)
	ksStreams                      // XREAD, XREADGROUP: the first half of what follows STREAMS
	ksSort                         // SORT: the key, and STORE's destination
	ksGeoRadius                    // GEORADIUS: the key, and STORE's or STOREDIST's destination
	ksGeoMember                    // GEORADIUSBYMEMBER: the same, one argument earlier
	ksMigrate                      // MIGRATE: the key at 3, or those after KEYS when it is ""
)

// For the table's readability.
const (
	ksRO = true
	ksRW = false
)

// commandTable has every command of Redis 7.0, keyed by its upper-case
// name, and the subcommands of the containers with keyed subcommands
// (OBJECT, MEMORY, XINFO, XGROUP) as "NAME|SUB". Commands without keys
// are here too, so that an unknown name can be told from a keyless one.
// The positions and flags are those of COMMAND on redis-server 7.0;
// TestCommandTableMatchesServer checks them against the server's.
var commandTable = map[string]keySpec{
	"ACL":                   {0, 0, 0, ksRW, ksFixed},
	"APPEND":                {1, 1, 1, ksRW, ksFixed},
	"ASKING":                {0, 0, 0, ksRW, ksFixed},
	"AUTH":                  {0, 0, 0, ksRW, ksFixed},
	"BGREWRITEAOF":          {0, 0, 0, ksRW, ksFixed},
	"BGSAVE":                {0, 0, 0, ksRW, ksFixed},
	"BITCOUNT":              {1, 1, 1, ksRO, ksFixed},
	"BITFIELD":              {1, 1, 1, ksRW, ksFixed},
	"BITFIELD_RO":           {1, 1, 1, ksRO, ksFixed},
	"BITOP":                 {2, -1, 1, ksRW, ksFixed},
	"BITPOS":                {1, 1, 1, ksRO, ksFixed},
	"BLMOVE":                {1, 2, 1, ksRW, ksFixed},
	"BLMPOP":                {0, 0, 0, ksRW, ksNumkeys2},
	"BLPOP":                 {1, -2, 1, ksRW, ksFixed},
	"BRPOP":                 {1, -2, 1, ksRW, ksFixed},
	"BRPOPLPUSH":            {1, 2, 1, ksRW, ksFixed},
	"BZMPOP":                {0, 0, 0, ksRW, ksNumkeys2},
	"BZPOPMAX":              {1, -2, 1, ksRW, ksFixed},
	"BZPOPMIN":              {1, -2, 1, ksRW, ksFixed},
	"CLIENT":                {0, 0, 0, ksRW, ksFixed},
	"CLUSTER":               {0, 0, 0, ksRW, ksFixed},
	"COMMAND":               {0, 0, 0, ksRW, ksFixed},
	"CONFIG":                {0, 0, 0, ksRW, ksFixed},
	"COPY":                  {1, 2, 1, ksRW, ksFixed},
	"DBSIZE":                {0, 0, 0, ksRO, ksFixed},
	"DEBUG":                 {0, 0, 0, ksRW, ksFixed},
	"DECR":                  {1, 1, 1, ksRW, ksFixed},
	"DECRBY":                {1, 1, 1, ksRW, ksFixed},
	"DEL":                   {1, -1, 1, ksRW, ksFixed},
	"DISCARD":               {0, 0, 0, ksRW, ksFixed},
	"DUMP":                  {1, 1, 1, ksRO, ksFixed},
	"ECHO":                  {0, 0, 0, ksRW, ksFixed},
	"EVAL":                  {0, 0, 0, ksRW, ksNumkeys2},
	"EVAL_RO":               {0, 0, 0, ksRO, ksNumkeys2},
	"EVALSHA":               {0, 0, 0, ksRW, ksNumkeys2},
	"EVALSHA_RO":            {0, 0, 0, ksRO, ksNumkeys2},
	"EXEC":                  {0, 0, 0, ksRW, ksFixed},
	"EXISTS":                {1, -1, 1, ksRO, ksFixed},
	"EXPIRE":                {1, 1, 1, ksRW, ksFixed},
	"EXPIREAT":              {1, 1, 1, ksRW, ksFixed},
	"EXPIRETIME":            {1, 1, 1, ksRO, ksFixed},
	"FAILOVER":              {0, 0, 0, ksRW, ksFixed},
	"FCALL":                 {0, 0, 0, ksRW, ksNumkeys2},
	"FCALL_RO":              {0, 0, 0, ksRO, ksNumkeys2},
	"FLUSHALL":              {0, 0, 0, ksRW, ksFixed},
	"FLUSHDB":               {0, 0, 0, ksRW, ksFixed},
	"FUNCTION":              {0, 0, 0, ksRW, ksFixed},
	"GEOADD":                {1, 1, 1, ksRW, ksFixed},
	"GEODIST":               {1, 1, 1, ksRO, ksFixed},
	"GEOHASH":               {1, 1, 1, ksRO, ksFixed},
	"GEOPOS":                {1, 1, 1, ksRO, ksFixed},
	"GEORADIUS":             {1, 1, 1, ksRW, ksGeoRadius},
	"GEORADIUS_RO":          {1, 1, 1, ksRO, ksFixed},
	"GEORADIUSBYMEMBER":     {1, 1, 1, ksRW, ksGeoMember},
	"GEORADIUSBYMEMBER_RO":  {1, 1, 1, ksRO, ksFixed},
	"GEOSEARCH":             {1, 1, 1, ksRO, ksFixed},
	"GEOSEARCHSTORE":        {1, 2, 1, ksRW, ksFixed},
	"GET":                   {1, 1, 1, ksRO, ksFixed},
	"GETBIT":                {1, 1, 1, ksRO, ksFixed},
	"GETDEL":                {1, 1, 1, ksRW, ksFixed},
	"GETEX":                 {1, 1, 1, ksRW, ksFixed},
	"GETRANGE":              {1, 1, 1, ksRO, ksFixed},
	"GETSET":                {1, 1, 1, ksRW, ksFixed},
	"HDEL":                  {1, 1, 1, ksRW, ksFixed},
	"HELLO":                 {0, 0, 0, ksRW, ksFixed},
	"HEXISTS":               {1, 1, 1, ksRO, ksFixed},
	"HGET":                  {1, 1, 1, ksRO, ksFixed},
	"HGETALL":               {1, 1, 1, ksRO, ksFixed},
	"HINCRBY":               {1, 1, 1, ksRW, ksFixed},
	"HINCRBYFLOAT":          {1, 1, 1, ksRW, ksFixed},
	"HKEYS":                 {1, 1, 1, ksRO, ksFixed},
	"HLEN":                  {1, 1, 1, ksRO, ksFixed},
	"HMGET":                 {1, 1, 1, ksRO, ksFixed},
	"HMSET":                 {1, 1, 1, ksRW, ksFixed},
	"HRANDFIELD":            {1, 1, 1, ksRO, ksFixed},
	"HSCAN":                 {1, 1, 1, ksRO, ksFixed},
	"HSET":                  {1, 1, 1, ksRW, ksFixed},
	"HSETNX":                {1, 1, 1, ksRW, ksFixed},
	"HSTRLEN":               {1, 1, 1, ksRO, ksFixed},
	"HVALS":                 {1, 1, 1, ksRO, ksFixed},
	"INCR":                  {1, 1, 1, ksRW, ksFixed},
	"INCRBY":                {1, 1, 1, ksRW, ksFixed},
	"INCRBYFLOAT":           {1, 1, 1, ksRW, ksFixed},
	"INFO":                  {0, 0, 0, ksRW, ksFixed},
	"KEYS":                  {0, 0, 0, ksRO, ksFixed},
	"LASTSAVE":              {0, 0, 0, ksRW, ksFixed},
	"LATENCY":               {0, 0, 0, ksRW, ksFixed},
	"LCS":                   {1, 2, 1, ksRO, ksFixed},
	"LINDEX":                {1, 1, 1, ksRO, ksFixed},
	"LINSERT":               {1, 1, 1, ksRW, ksFixed},
	"LLEN":                  {1, 1, 1, ksRO, ksFixed},
	"LMOVE":                 {1, 2, 1, ksRW, ksFixed},
	"LMPOP":                 {0, 0, 0, ksRW, ksNumkeys1},
	"LOLWUT":                {0, 0, 0, ksRO, ksFixed},
	"LPOP":                  {1, 1, 1, ksRW, ksFixed},
	"LPOS":                  {1, 1, 1, ksRO, ksFixed},
	"LPUSH":                 {1, 1, 1, ksRW, ksFixed},
	"LPUSHX":                {1, 1, 1, ksRW, ksFixed},
	"LRANGE":                {1, 1, 1, ksRO, ksFixed},
	"LREM":                  {1, 1, 1, ksRW, ksFixed},
	"LSET":                  {1, 1, 1, ksRW, ksFixed},
	"LTRIM":                 {1, 1, 1, ksRW, ksFixed},
	"MEMORY":                {0, 0, 0, ksRW, ksSub},
	"MEMORY|DOCTOR":         {0, 0, 0, ksRW, ksFixed},
	"MEMORY|HELP":           {0, 0, 0, ksRW, ksFixed},
	"MEMORY|MALLOC-STATS":   {0, 0, 0, ksRW, ksFixed},
	"MEMORY|PURGE":          {0, 0, 0, ksRW, ksFixed},
	"MEMORY|STATS":          {0, 0, 0, ksRW, ksFixed},
	"MEMORY|USAGE":          {2, 2, 1, ksRO, ksFixed},
	"MGET":                  {1, -1, 1, ksRO, ksFixed},
	"MIGRATE":               {3, 3, 1, ksRW, ksMigrate},
	"MODULE":                {0, 0, 0, ksRW, ksFixed},
	"MONITOR":               {0, 0, 0, ksRW, ksFixed},
	"MOVE":                  {1, 1, 1, ksRW, ksFixed},
	"MSET":                  {1, -1, 2, ksRW, ksFixed},
	"MSETNX":                {1, -1, 2, ksRW, ksFixed},
	"MULTI":                 {0, 0, 0, ksRW, ksFixed},
	"OBJECT":                {0, 0, 0, ksRW, ksSub},
	"OBJECT|ENCODING":       {2, 2, 1, ksRO, ksFixed},
	"OBJECT|FREQ":           {2, 2, 1, ksRO, ksFixed},
	"OBJECT|HELP":           {0, 0, 0, ksRW, ksFixed},
	"OBJECT|IDLETIME":       {2, 2, 1, ksRO, ksFixed},
	"OBJECT|REFCOUNT":       {2, 2, 1, ksRO, ksFixed},
	"PERSIST":               {1, 1, 1, ksRW, ksFixed},
	"PEXPIRE":               {1, 1, 1, ksRW, ksFixed},
	"PEXPIREAT":             {1, 1, 1, ksRW, ksFixed},
	"PEXPIRETIME":           {1, 1, 1, ksRO, ksFixed},
	"PFADD":                 {1, 1, 1, ksRW, ksFixed},
	"PFCOUNT":               {1, -1, 1, ksRO, ksFixed},
	"PFDEBUG":               {2, 2, 1, ksRW, ksFixed},
	"PFMERGE":               {1, -1, 1, ksRW, ksFixed},
	"PFSELFTEST":            {0, 0, 0, ksRW, ksFixed},
	"PING":                  {0, 0, 0, ksRW, ksFixed},
	"PSETEX":                {1, 1, 1, ksRW, ksFixed},
	"PSUBSCRIBE":            {0, 0, 0, ksRW, ksFixed},
	"PSYNC":                 {0, 0, 0, ksRW, ksFixed},
	"PTTL":                  {1, 1, 1, ksRO, ksFixed},
	"PUBLISH":               {0, 0, 0, ksRW, ksFixed},
	"PUBSUB":                {0, 0, 0, ksRW, ksFixed},
	"PUNSUBSCRIBE":          {0, 0, 0, ksRW, ksFixed},
	"QUIT":                  {0, 0, 0, ksRW, ksFixed},
	"RANDOMKEY":             {0, 0, 0, ksRO, ksFixed},
	"READONLY":              {0, 0, 0, ksRW, ksFixed},
	"READWRITE":             {0, 0, 0, ksRW, ksFixed},
	"RENAME":                {1, 2, 1, ksRW, ksFixed},
	"RENAMENX":              {1, 2, 1, ksRW, ksFixed},
	"REPLCONF":              {0, 0, 0, ksRW, ksFixed},
	"REPLICAOF":             {0, 0, 0, ksRW, ksFixed},
	"RESET":                 {0, 0, 0, ksRW, ksFixed},
	"RESTORE":               {1, 1, 1, ksRW, ksFixed},
	"RESTORE-ASKING":        {1, 1, 1, ksRW, ksFixed},
	"ROLE":                  {0, 0, 0, ksRW, ksFixed},
	"RPOP":                  {1, 1, 1, ksRW, ksFixed},
	"RPOPLPUSH":             {1, 2, 1, ksRW, ksFixed},
	"RPUSH":                 {1, 1, 1, ksRW, ksFixed},
	"RPUSHX":                {1, 1, 1, ksRW, ksFixed},
	"SADD":                  {1, 1, 1, ksRW, ksFixed},
	"SAVE":                  {0, 0, 0, ksRW, ksFixed},
	"SCAN":                  {0, 0, 0, ksRO, ksFixed},
	"SCARD":                 {1, 1, 1, ksRO, ksFixed},
	"SCRIPT":                {0, 0, 0, ksRW, ksFixed},
	"SDIFF":                 {1, -1, 1, ksRO, ksFixed},
	"SDIFFSTORE":            {1, -1, 1, ksRW, ksFixed},
	"SELECT":                {0, 0, 0, ksRW, ksFixed},
	"SET":                   {1, 1, 1, ksRW, ksFixed},
	"SETBIT":                {1, 1, 1, ksRW, ksFixed},
	"SETEX":                 {1, 1, 1, ksRW, ksFixed},
	"SETNX":                 {1, 1, 1, ksRW, ksFixed},
	"SETRANGE":              {1, 1, 1, ksRW, ksFixed},
	"SHUTDOWN":              {0, 0, 0, ksRW, ksFixed},
	"SINTER":                {1, -1, 1, ksRO, ksFixed},
	"SINTERCARD":            {0, 0, 0, ksRO, ksNumkeys1},
	"SINTERSTORE":           {1, -1, 1, ksRW, ksFixed},
	"SISMEMBER":             {1, 1, 1, ksRO, ksFixed},
	"SLAVEOF":               {0, 0, 0, ksRW, ksFixed},
	"SLOWLOG":               {0, 0, 0, ksRW, ksFixed},
	"SMEMBERS":              {1, 1, 1, ksRO, ksFixed},
	"SMISMEMBER":            {1, 1, 1, ksRO, ksFixed},
	"SMOVE":                 {1, 2, 1, ksRW, ksFixed},
	"SORT":                  {1, 1, 1, ksRW, ksSort},
	"SORT_RO":               {1, 1, 1, ksRO, ksFixed}, // movablekeys only for BY and GET patterns, which a cluster confines to the key's slot
	"SPOP":                  {1, 1, 1, ksRW, ksFixed},
	"SPUBLISH":              {1, 1, 1, ksRW, ksFixed}, // shard channels are routed as keys
	"SRANDMEMBER":           {1, 1, 1, ksRO, ksFixed},
	"SREM":                  {1, 1, 1, ksRW, ksFixed},
	"SSCAN":                 {1, 1, 1, ksRO, ksFixed},
	"SSUBSCRIBE":            {1, -1, 1, ksRW, ksFixed},
	"STRLEN":                {1, 1, 1, ksRO, ksFixed},
	"SUBSCRIBE":             {0, 0, 0, ksRW, ksFixed},
	"SUBSTR":                {1, 1, 1, ksRO, ksFixed},
	"SUNION":                {1, -1, 1, ksRO, ksFixed},
	"SUNIONSTORE":           {1, -1, 1, ksRW, ksFixed},
	"SUNSUBSCRIBE":          {1, -1, 1, ksRW, ksFixed},
	"SWAPDB":                {0, 0, 0, ksRW, ksFixed},
	"SYNC":                  {0, 0, 0, ksRW, ksFixed},
	"TIME":                  {0, 0, 0, ksRW, ksFixed},
	"TOUCH":                 {1, -1, 1, ksRO, ksFixed},
	"TTL":                   {1, 1, 1, ksRO, ksFixed},
	"TYPE":                  {1, 1, 1, ksRO, ksFixed},
	"UNLINK":                {1, -1, 1, ksRW, ksFixed},
	"UNSUBSCRIBE":           {0, 0, 0, ksRW, ksFixed},
	"UNWATCH":               {0, 0, 0, ksRW, ksFixed},
	"WAIT":                  {0, 0, 0, ksRW, ksFixed},
	"WATCH":                 {1, -1, 1, ksRW, ksFixed},
	"XACK":                  {1, 1, 1, ksRW, ksFixed},
	"XADD":                  {1, 1, 1, ksRW, ksFixed},
	"XAUTOCLAIM":            {1, 1, 1, ksRW, ksFixed},
	"XCLAIM":                {1, 1, 1, ksRW, ksFixed},
	"XDEL":                  {1, 1, 1, ksRW, ksFixed},
	"XGROUP":                {0, 0, 0, ksRW, ksSub},
	"XGROUP|CREATE":         {2, 2, 1, ksRW, ksFixed},
	"XGROUP|CREATECONSUMER": {2, 2, 1, ksRW, ksFixed},
	"XGROUP|DELCONSUMER":    {2, 2, 1, ksRW, ksFixed},
	"XGROUP|DESTROY":        {2, 2, 1, ksRW, ksFixed},
	"XGROUP|HELP":           {0, 0, 0, ksRW, ksFixed},
	"XGROUP|SETID":          {2, 2, 1, ksRW, ksFixed},
	"XINFO":                 {0, 0, 0, ksRW, ksSub},
	"XINFO|CONSUMERS":       {2, 2, 1, ksRO, ksFixed},
	"XINFO|GROUPS":          {2, 2, 1, ksRO, ksFixed},
	"XINFO|HELP":            {0, 0, 0, ksRW, ksFixed},
	"XINFO|STREAM":          {2, 2, 1, ksRO, ksFixed},
	"XLEN":                  {1, 1, 1, ksRO, ksFixed},
	"XPENDING":              {1, 1, 1, ksRO, ksFixed},
	"XRANGE":                {1, 1, 1, ksRO, ksFixed},
	"XREAD":                 {0, 0, 0, ksRO, ksStreams},
	"XREADGROUP":            {0, 0, 0, ksRW, ksStreams},
	"XREVRANGE":             {1, 1, 1, ksRO, ksFixed},
	"XSETID":                {1, 1, 1, ksRW, ksFixed},
	"XTRIM":                 {1, 1, 1, ksRW, ksFixed},
	"ZADD":                  {1, 1, 1, ksRW, ksFixed},
	"ZCARD":                 {1, 1, 1, ksRO, ksFixed},
	"ZCOUNT":                {1, 1, 1, ksRO, ksFixed},
	"ZDIFF":                 {0, 0, 0, ksRO, ksNumkeys1},
	"ZDIFFSTORE":            {1, 1, 1, ksRW, ksDestNumkeys},
	"ZINCRBY":               {1, 1, 1, ksRW, ksFixed},
	"ZINTER":                {0, 0, 0, ksRO, ksNumkeys1},
	"ZINTERCARD":            {0, 0, 0, ksRO, ksNumkeys1},
	"ZINTERSTORE":           {1, 1, 1, ksRW, ksDestNumkeys},
	"ZLEXCOUNT":             {1, 1, 1, ksRO, ksFixed},
	"ZMPOP":                 {0, 0, 0, ksRW, ksNumkeys1},
	"ZMSCORE":               {1, 1, 1, ksRO, ksFixed},
	"ZPOPMAX":               {1, 1, 1, ksRW, ksFixed},
	"ZPOPMIN":               {1, 1, 1, ksRW, ksFixed},
	"ZRANDMEMBER":           {1, 1, 1, ksRO, ksFixed},
	"ZRANGE":                {1, 1, 1, ksRO, ksFixed},
	"ZRANGEBYLEX":           {1, 1, 1, ksRO, ksFixed},
	"ZRANGEBYSCORE":         {1, 1, 1, ksRO, ksFixed},
	"ZRANGESTORE":           {1, 2, 1, ksRW, ksFixed},
	"ZRANK":                 {1, 1, 1, ksRO, ksFixed},
	"ZREM":                  {1, 1, 1, ksRW, ksFixed},
	"ZREMRANGEBYLEX":        {1, 1, 1, ksRW, ksFixed},
	"ZREMRANGEBYRANK":       {1, 1, 1, ksRW, ksFixed},
	"ZREMRANGEBYSCORE":      {1, 1, 1, ksRW, ksFixed},
	"ZREVRANGE":             {1, 1, 1, ksRO, ksFixed},
	"ZREVRANGEBYLEX":        {1, 1, 1, ksRO, ksFixed},
	"ZREVRANGEBYSCORE":      {1, 1, 1, ksRO, ksFixed},
	"ZREVRANK":              {1, 1, 1, ksRO, ksFixed},
	"ZSCAN":                 {1, 1, 1, ksRO, ksFixed},
	"ZSCORE":                {1, 1, 1, ksRO, ksFixed},
	"ZUNION":                {0, 0, 0, ksRO, ksNumkeys1},
	"ZUNIONSTORE":           {1, 1, 1, ksRW, ksDestNumkeys},

	// After 7.0.
	"WAITAOF": {0, 0, 0, ksRW, ksFixed}, // 7.2: waits for the fsync of this connection's writes
}

// maxCommandName bounds the names looked up in commandTable, container
// and subcommand together ("XGROUP|CREATECONSUMER" is 21 bytes).
const maxCommandName = 32

// keyPos gives the argument indexes of a command's keys: a range
// first, first+step, ... up to last (inclusive), and one more key at
// extra (a destination). first and extra are 0 when absent.
type keyPos struct {
	first, last, step int
	extra             int
}

// upperName copies s into buf in upper case (ASCII) and returns the bytes
// written, or false when s does not fit.
func upperName(buf []byte, s string) ([]byte, bool) {
	if len(s) > len(buf) {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:len(s)], true
}

// lookupCommand returns the entry of args' command (of its subcommand for
// a container), and false for a command commandTable does not know. An
// unknown subcommand of a known container is keyless. The name is
// upper-cased in a stack buffer and looked up without allocating.
func lookupCommand(args []string) (keySpec, bool) {
	var buf [maxCommandName]byte
	name, ok := upperName(buf[:], args[0])
	if !ok {
		return keySpec{}, false
	}
	spec, ok := commandTable[string(name)]
	if !ok || spec.find != ksSub {
		return spec, ok
	}
	if len(args) < 2 || len(name)+1+len(args[1]) > len(buf) {
		return keySpec{}, true
	}
	buf[len(name)] = '|'
	sub, _ := upperName(buf[len(name)+1:], args[1])
	full := buf[:len(name)+1+len(sub)]
	if spec, ok := commandTable[string(full)]; ok {
		return spec, true
	}
	return keySpec{}, true
}

// keyPositions returns where the keys of args are, and whether the
// command only reads.
//
// A command commandTable does not know takes args[1] as its key: those
// are module commands, or commands newer than the table, and nearly all
// of them name their key first, as Redis' own do; routing a keyless one
// by its first argument still reaches a node that can answer it. For a
// malformed command (a numkeys that is not a number or exceeds the
// arguments, an XREAD without STREAMS) no key is reported: whichever
// node gets it refuses it with the server's own error.
func keyPositions(args []string) (keyPos, bool) {
	if len(args) == 0 {
		return keyPos{}, false
	}
	spec, known := lookupCommand(args)
	if !known {
		if len(args) > 1 {
			return keyPos{first: 1, last: 1, step: 1}, false
		}
		return keyPos{}, false
	}
	n := len(args)
	var p keyPos
	switch spec.find {
	case ksFixed, ksSub:
		if spec.first == 0 || int(spec.first) >= n {
			break
		}
		last := int(spec.last)
		if last < 0 {
			last += n
		}
		p = keyPos{first: int(spec.first), last: min(last, n-1), step: int(spec.step)}
	case ksNumkeys1:
		p = numkeysAt(args, 1)
	case ksNumkeys2:
		p = numkeysAt(args, 2)
	case ksDestNumkeys:
		if p = numkeysAt(args, 2); p.first != 0 {
			p.extra = 1
		}
	case ksStreams:
		p = streamKeys(args)
	case ksSort:
		p = sortKeys(args)
	case ksGeoRadius:
		p = geoKeys(args, 6)
	case ksGeoMember:
		p = geoKeys(args, 5)
	case ksMigrate:
		p = migrateKeys(args)
	}
	if p.first != 0 && (p.last < p.first || p.step <= 0) {
		p.first = 0
	}
	return p, spec.ro
}

// numkeysAt finds the keys that follow a count at args[i]. A count that is
// not a number, is 0 or exceeds the arguments left gives no key.
func numkeysAt(args []string, i int) keyPos {
	if i >= len(args) {
		return keyPos{}
	}
	k, ok := parseCount(args[i])
	if !ok || k == 0 || k > len(args)-i-1 {
		return keyPos{}
	}
	return keyPos{first: i + 1, last: i + k, step: 1}
}

// parseCount parses a non-negative decimal count without allocating.
func parseCount(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// streamKeys finds XREAD's and XREADGROUP's keys: the options are read as
// the server reads them (COUNT and BLOCK take one argument, GROUP two,
// NOACK none), so that a group or consumer named "streams" is not taken
// for the keyword; after STREAMS come n keys then n IDs.
func streamKeys(args []string) keyPos {
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.EqualFold(a, "COUNT"), strings.EqualFold(a, "BLOCK"):
			i++
		case strings.EqualFold(a, "GROUP"):
			i += 2
		case strings.EqualFold(a, "NOACK"):
		case strings.EqualFold(a, "STREAMS"):
			rest := len(args) - i - 1
			if rest == 0 || rest%2 != 0 {
				return keyPos{}
			}
			return keyPos{first: i + 1, last: i + rest/2, step: 1}
		default:
			return keyPos{}
		}
	}
	return keyPos{}
}

// sortKeys finds SORT's key and the destination of its last STORE,
// skipping the arguments of LIMIT, BY and GET (patterns, not keys: in a
// cluster the server only accepts those that hash to the key's slot).
func sortKeys(args []string) keyPos {
	if len(args) < 2 {
		return keyPos{}
	}
	p := keyPos{first: 1, last: 1, step: 1}
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.EqualFold(a, "LIMIT"):
			i += 2
		case strings.EqualFold(a, "BY"), strings.EqualFold(a, "GET"):
			i++
		case strings.EqualFold(a, "STORE") && i+1 < len(args):
			i++
			p.extra = i
		}
	}
	return p
}

// geoKeys finds GEORADIUS's (options from 6) or GEORADIUSBYMEMBER's
// (options from 5) key and the destination of the last STORE or
// STOREDIST, skipping COUNT's argument as the server does.
func geoKeys(args []string, opts int) keyPos {
	if len(args) < 2 {
		return keyPos{}
	}
	p := keyPos{first: 1, last: 1, step: 1}
	for i := opts; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.EqualFold(a, "COUNT"):
			i++
		case (strings.EqualFold(a, "STORE") || strings.EqualFold(a, "STOREDIST")) && i+1 < len(args):
			i++
			p.extra = i
		}
	}
	return p
}

// migrateKeys finds MIGRATE's keys: host port key db timeout [COPY]
// [REPLACE] [AUTH password] [AUTH2 user password] [KEYS key ...]. With
// KEYS, the key argument is "" and the keys follow KEYS; without, it is
// the one key (possibly "", a valid key name).
func migrateKeys(args []string) keyPos {
	if len(args) < 4 {
		return keyPos{}
	}
	if args[3] == "" {
		for i := 6; i < len(args); i++ {
			a := args[i]
			switch {
			case strings.EqualFold(a, "AUTH"):
				i++
			case strings.EqualFold(a, "AUTH2"):
				i += 2
			case strings.EqualFold(a, "KEYS"):
				if i+1 >= len(args) {
					return keyPos{}
				}
				return keyPos{first: i + 1, last: len(args) - 1, step: 1}
			}
		}
	}
	return keyPos{first: 3, last: 3, step: 1}
}

// slotCheck accumulates the slot of a command's keys.
type slotCheck struct {
	slot int
	key  string
	err  *CrossSlotError
}

func (c *slotCheck) add(cmd, key string) {
	s := hashSlot(key)
	switch {
	case c.slot < 0:
		c.slot, c.key = s, key
	case s != c.slot && c.err == nil:
		c.err = &CrossSlotError{Command: cmd, Keys: [2]string{c.key, key}, Slots: [2]int{c.slot, s}}
	}
}

// commandSlot returns the hash slot of the keys of args (a command and
// its arguments), -1 when it has none, and whether the command only reads
// (so that a replica may serve it). When its keys hash to different slots
// it returns a *CrossSlotError naming the first two that differ. It does
// not allocate unless it returns an error.
func commandSlot(args []string) (slot int, readonly bool, err error) {
	p, ro := keyPositions(args)
	c := slotCheck{slot: -1}
	if p.extra != 0 && (p.first == 0 || p.extra < p.first) {
		c.add(args[0], args[p.extra])
	}
	if p.first != 0 {
		for i := p.first; i <= p.last; i += p.step {
			c.add(args[0], args[i])
		}
	}
	if p.extra != 0 && p.first != 0 && p.extra > p.first {
		c.add(args[0], args[p.extra])
	}
	if c.err != nil {
		return -1, ro, c.err
	}
	return c.slot, ro, nil
}

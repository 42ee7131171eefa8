package decoders

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// IPFIXDump is what libfixbuf's ipfixDump, the strictest IPFIX reader at
// hand, read from a file of IPFIX messages.
type IPFIXDump struct {
	Messages []DumpMessage
	Records  []Elements // every data record, options records included
	Stats    string     // its closing "*** File Stats: ..." line
	Stderr   string     // libfixbuf's warnings (a sequence gap, an unknown template...)
	Output   string
}

// DumpMessage is one message header ipfixDump printed.
type DumpMessage struct {
	Domain, Sequence uint32
	DataRecords      int
}

var (
	dumpHeader  = regexp.MustCompile(`observation domain id: (\d+)`)
	dumpSeq     = regexp.MustCompile(`sequence number: (\d+)`)
	dumpMsgData = regexp.MustCompile(`^\*\*\* Msg Stats: (\d+) Data Records`)
	dumpField   = regexp.MustCompile(`^\t\((\d+)(?:/(\d+))?\)(?: \(S\))?\s+\S+ : (.*)$`)
	dumpString  = regexp.MustCompile(`^\(len: \d+\) `)
	dumpTime    = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$`)
)

// RunIPFIXDump runs ipfixDump on path with RFC 5610 type records on (so it
// names enterprise elements the stream describes) and parses its output.
func RunIPFIXDump(ctx context.Context, ipfixDump, path string) (*IPFIXDump, error) {
	cmd := exec.CommandContext(ctx, ipfixDump, "--in", path, "--rfc5610")
	cmd.Env = append(os.Environ(), "TZ=UTC") // times print in local time
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", cmd, err, stderr.Bytes())
	}
	d, err := parseIPFIXDump(stdout.String())
	if err != nil {
		return nil, err
	}
	d.Stderr = stderr.String()
	return d, nil
}

// headerNumber stores in v the 32-bit number re captures in a message
// header line.
func headerNumber(line string, re *regexp.Regexp, v *uint32) error {
	m := re.FindStringSubmatch(line)
	if m == nil {
		return fmt.Errorf("ipfixDump header line %q", line)
	}
	n, err := strconv.ParseUint(m[1], 10, 32)
	if err != nil {
		return fmt.Errorf("ipfixDump header line %q: %w", line, err)
	}
	*v = uint32(n)
	return nil
}

func parseIPFIXDump(out string) (*IPFIXDump, error) {
	d := &IPFIXDump{Output: out}
	var rec Elements
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "--- Message Header ---":
			d.Messages = append(d.Messages, DumpMessage{})
			rec = nil
		case strings.HasPrefix(line, "export time:") && len(d.Messages) > 0:
			if err := headerNumber(line, dumpHeader, &d.Messages[len(d.Messages)-1].Domain); err != nil {
				return nil, err
			}
		case strings.HasPrefix(line, "message length:") && len(d.Messages) > 0:
			if err := headerNumber(line, dumpSeq, &d.Messages[len(d.Messages)-1].Sequence); err != nil {
				return nil, err
			}
		case strings.HasPrefix(line, "--- data record"):
			rec = Elements{}
			d.Records = append(d.Records, rec)
		case strings.HasPrefix(line, "--- template record"), strings.HasPrefix(line, "*** Msg Stats"):
			if m := dumpMsgData.FindStringSubmatch(line); m != nil && len(d.Messages) > 0 {
				d.Messages[len(d.Messages)-1].DataRecords, _ = strconv.Atoi(m[1])
			}
			rec = nil
		case strings.HasPrefix(line, "*** File Stats"):
			d.Stats = line
		case rec != nil:
			m := dumpField.FindStringSubmatch(line)
			if m == nil {
				continue // "header:", "count: ...", "fields:"
			}
			key := "0/" + m[1] // IANA: "(8)"; enterprise: "(32473/1)"
			if m[2] != "" {
				key = m[1] + "/" + m[2]
			}
			v, err := dumpValue(m[3])
			if err != nil {
				return nil, fmt.Errorf("ipfixDump field %q: %w", line, err)
			}
			rec[key] = v
		}
	}
	if d.Stats == "" {
		return nil, fmt.Errorf("ipfixDump printed no file statistics:\n%s", out)
	}
	return d, sc.Err()
}

func dumpValue(s string) (string, error) {
	if loc := dumpString.FindStringIndex(s); loc != nil {
		return s[loc[1]:], nil
	}
	if dumpTime.MatchString(s) {
		t, err := time.Parse("2006-01-02 15:04:05.999999999", s)
		if err != nil {
			return "", err
		}
		return t.Format(time.RFC3339Nano), nil
	}
	return s, nil
}

// SequenceGaps lists the messages whose sequence number is not the one
// the data records before them in their domain (RFC 7011 §3.1) call for.
func (d *IPFIXDump) SequenceGaps() []string {
	var gaps []string
	next := map[uint32]uint32{}
	for i, m := range d.Messages {
		if want, ok := next[m.Domain]; ok && m.Sequence != want {
			gaps = append(gaps, fmt.Sprintf("message %d (domain %d): sequence %d, want %d", i+1, m.Domain, m.Sequence, want))
		}
		next[m.Domain] = m.Sequence + uint32(m.DataRecords)
	}
	return gaps
}

package commands

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// jsonRecords uses the proto field names (process_guid, actual_lrp_key, ...), which are the
// names upstream's JSON of these records uses.
var jsonRecords = protojson.MarshalOptions{UseProtoNames: true}

// printProto prints a record as one line of JSON.
func (c *cli) printProto(m proto.Message) error {
	b, err := jsonRecords.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.out, "%s\n", b)
	return err
}

// printJSON prints v as one line of encoding/json (for values that are not protobuf messages).
func (c *cli) printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.out, "%s\n", b)
	return err
}

// table prints a header and rows aligned in columns.
func (c *cli) table(header []string, rows [][]string) error {
	w := tabwriter.NewWriter(c.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}

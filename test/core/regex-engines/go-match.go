// Reads lines "<base64 pattern>" or "<base64 pattern>\t<base64 value>" and prints, per line, what
// Go's regexp says, as the SSM Agent checks a document parameter: "E <compile error>", "ok" (the
// pattern compiles), or "1"/"0" for MatchString.
package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"strings"
)

func decode(text string) string {
	bytes, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		panic(err)
	}
	return string(bytes)
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		fields := strings.Split(in.Text(), "\t")
		re, err := regexp.Compile(decode(fields[0]))
		switch {
		case err != nil:
			fmt.Fprintf(out, "E %s\n", err)
		case len(fields) == 1:
			fmt.Fprintln(out, "ok")
		case re.MatchString(decode(fields[1])):
			fmt.Fprintln(out, "1")
		default:
			fmt.Fprintln(out, "0")
		}
	}
}

// Command fractals is the FRACTALS command-line tool. Each sub-command lives in its own file and
// registers itself in init with register; main only dispatches. Sub-commands print their result on
// stdout, errors as one line on stderr, and exit with status 2 for bad usage or bad input.
package main

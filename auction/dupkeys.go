package auction

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// checkDuplicateKeys walks one JSON value token by token and refuses an object that names a key twice,
// at any depth. encoding/json silently keeps the last of two equal keys, so `{"price":1,"price":99}`
// would otherwise mean whatever the last writer wanted; the error names the key and where it is, as a
// path in JSON's terms (`bids[1].price`). The input has already been checked as one valid JSON value.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return walkValue(dec, "")
}

func walkValue(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("JSON at %s: %v", describePath(path), err)
	}
	switch tok {
	case json.Delim('{'):
		seen := make(map[string]bool)
		for dec.More() {
			keyTok, err := dec.Token()
			if err != nil {
				return fmt.Errorf("JSON at %s: %v", describePath(path), err)
			}
			key, _ := keyTok.(string)
			child := joinKey(path, key)
			if seen[key] {
				return fmt.Errorf("%s: key %q appears twice in the same object, want each key once", describePath(child), key)
			}
			seen[key] = true
			if err := walkValue(dec, child); err != nil {
				return err
			}
		}
		_, err := dec.Token() // the closing brace
		return err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walkValue(dec, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err := dec.Token() // the closing bracket
		return err
	}
	return nil
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func describePath(path string) string {
	if path == "" {
		return "the input"
	}
	return path
}

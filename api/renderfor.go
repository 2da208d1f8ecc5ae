package api

import "github.com/statgate/statgate/engine/result"

// Render encodes a released result as the API answers it by default in
// the media type mediaType (MediaJSON, MediaCSV or MediaArrow): CSV with
// its "#" comment lines, JSON indented (?pretty=true), so that the command
// line prints what a client would receive.
func Render(r *result.Result, mediaType string) ([]byte, error) {
	return render(r, mediaType, outputOptions{pretty: true, comments: true})
}

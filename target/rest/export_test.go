package rest

// Queued returns how many creates wait for the next batch request.
func (c *Client) Queued() int {
	c.batch.mu.Lock()
	defer c.batch.mu.Unlock()
	return len(c.batch.queue)
}

// NextLink exposes nextLink.
func NextLink(values []string) string { return nextLink(values) }

// Follow exposes follow.
func (c *Client) Follow(path string, next string) (string, string, error) {
	p, q, err := c.follow(path, nil, next)
	if err != nil {
		return "", "", err
	}
	return p, q.Encode(), nil
}

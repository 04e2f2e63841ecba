package rest

// Queued returns how many creates wait for the next batch request.
func (c *Client) Queued() int {
	c.batch.mu.Lock()
	defer c.batch.mu.Unlock()
	return len(c.batch.queue)
}

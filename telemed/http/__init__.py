"""HTTP transport pieces shared by every domain's views: errors, auth, input, headers."""

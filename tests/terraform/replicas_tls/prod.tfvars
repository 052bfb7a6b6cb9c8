redis_auth_token = "prod-cache-token-0123456789"

# The smallest shape: one instance without a standby or replicas, no proxy, one cache
# node without automatic failover, and no Secrets Manager resources.

resource "aws_db_instance" "db" {
  identifier          = "small-db"
  engine              = "postgres"
  engine_version      = "16"
  instance_class      = "db.t3.micro"
  allocated_storage   = 20
  username            = "appuser"
  password            = "local-only-pass-1"
  db_name             = "appdb"
  skip_final_snapshot = true
}

resource "aws_elasticache_replication_group" "cache" {
  replication_group_id       = "small-cache"
  description                = "single node"
  node_type                  = "cache.t4g.micro"
  num_cache_clusters         = 1
  automatic_failover_enabled = false
}

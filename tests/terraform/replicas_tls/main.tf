variable "project" {
  type    = string
  default = "shop"
}

variable "env" {
  type    = string
  default = "prod"
}

variable "redis_auth_token" {
  type      = string
  sensitive = true
}

locals {
  name = "${var.project}-${var.env}"
}

resource "aws_db_instance" "main" {
  identifier                  = "${local.name}-db"
  engine                      = "postgres"
  engine_version              = "15"
  instance_class              = "db.m6g.xlarge"
  multi_az                    = false
  username                    = "shopadmin"
  manage_master_user_password = true
  db_name                     = "shop"
}

resource "aws_db_instance" "read" {
  count               = 3
  identifier          = "${local.name}-read-${count.index + 1}"
  replicate_source_db = aws_db_instance.main.arn
  instance_class      = "db.m6g.large"
}

resource "aws_secretsmanager_secret" "db" {
  name = "${local.name}/db"
}

resource "aws_db_proxy" "main" {
  name                = "${local.name}-proxy"
  engine_family       = "POSTGRESQL"
  idle_client_timeout = 900
  require_tls         = true
  role_arn            = "arn:aws:iam::123456789012:role/proxy"
  vpc_subnet_ids      = ["subnet-1"]

  auth {
    auth_scheme = "SECRETS"
    secret_arn  = aws_secretsmanager_secret.db.arn
  }
}

resource "aws_db_proxy_default_target_group" "main" {
  db_proxy_name = aws_db_proxy.main.name
}

resource "aws_db_proxy_target" "main" {
  db_proxy_name          = aws_db_proxy.main.name
  target_group_name      = aws_db_proxy_default_target_group.main.name
  db_instance_identifier = aws_db_instance.main.identifier
}

resource "aws_elasticache_replication_group" "cache" {
  replication_group_id       = "${local.name}-cache"
  description                = "cache with TLS"
  engine                     = "redis"
  node_type                  = "cache.m6g.large"
  num_node_groups            = 1
  replicas_per_node_group    = 1
  automatic_failover_enabled = true
  transit_encryption_enabled = true
  auth_token                 = var.redis_auth_token
}

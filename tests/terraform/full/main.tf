terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
}

provider "aws" {
  region = "eu-west-1"
}

data "aws_vpc" "main" {
  default = true
}

resource "aws_db_subnet_group" "db" {
  name       = "${var.env}-db-subnets"
  subnet_ids = ["subnet-0a", "subnet-0b"]
}

resource "aws_security_group" "db" {
  name   = "${var.env}-db"
  vpc_id = data.aws_vpc.main.id
}

resource "aws_db_parameter_group" "pg15" {
  name   = "${var.env}-pg15"
  family = "postgres15"

  parameter {
    name  = "max_connections"
    value = "500"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "250"
  }
}

resource "aws_db_instance" "primary" {
  identifier             = "${var.env}-primary-db"
  engine                 = "postgres"
  engine_version         = "15.5"
  instance_class         = var.instance_class
  allocated_storage      = 100
  multi_az               = true
  username               = "dbadmin"
  password               = var.db_password
  db_name                = "app_database"
  parameter_group_name   = aws_db_parameter_group.pg15.name
  db_subnet_group_name   = aws_db_subnet_group.db.name
  vpc_security_group_ids = [aws_security_group.db.id]
  skip_final_snapshot    = true

  tags = {
    Environment = var.env
  }
}

resource "aws_db_instance" "replica" {
  count               = var.replica_count
  identifier          = "${var.env}-replica-${count.index}"
  replicate_source_db = aws_db_instance.primary.identifier
  instance_class      = var.instance_class
  skip_final_snapshot = true
}

resource "aws_secretsmanager_secret" "db" {
  name = "${var.env}-db-credentials"
}

resource "aws_secretsmanager_secret_version" "db" {
  secret_id = aws_secretsmanager_secret.db.id
  secret_string = jsonencode({
    username = aws_db_instance.primary.username
    password = var.db_password
    engine   = "postgres"
    host     = aws_db_instance.primary.address
    port     = 5432
    dbname   = aws_db_instance.primary.db_name
  })
}

resource "aws_iam_role" "proxy" {
  name               = "${var.env}-db-proxy"
  assume_role_policy = "{}"
}

resource "aws_db_proxy" "main" {
  name                = "${var.env}-db-proxy"
  engine_family       = "POSTGRESQL"
  idle_client_timeout = 1800
  require_tls         = false
  role_arn            = aws_iam_role.proxy.arn
  vpc_subnet_ids      = aws_db_subnet_group.db.subnet_ids

  auth {
    auth_scheme = "SECRETS"
    iam_auth    = "DISABLED"
    secret_arn  = aws_secretsmanager_secret.db.arn
  }
}

resource "aws_db_proxy_default_target_group" "main" {
  db_proxy_name = aws_db_proxy.main.name

  connection_pool_config {
    max_connections_percent      = 80
    max_idle_connections_percent = 40
    connection_borrow_timeout    = 60
    session_pinning_filters      = ["EXCLUDE_VARIABLE_SETS"]
  }
}

resource "aws_db_proxy_target" "primary" {
  db_proxy_name          = aws_db_proxy.main.name
  target_group_name      = aws_db_proxy_default_target_group.main.name
  db_instance_identifier = aws_db_instance.primary.identifier
}

resource "aws_elasticache_replication_group" "cache" {
  replication_group_id       = "${var.env}-redis-cluster"
  description                = "application cache"
  engine                     = "redis"
  node_type                  = "cache.r6g.large"
  num_cache_clusters         = 3
  automatic_failover_enabled = true
  multi_az_enabled           = true
  at_rest_encryption_enabled = true
  transit_encryption_enabled = false
}

output "proxy_endpoint" {
  value = aws_db_proxy.main.endpoint
}

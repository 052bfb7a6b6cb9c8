variable "env" {
  description = "Environment name, used in identifiers."
  type        = string
  default     = "app"
}

variable "db_password" {
  description = "Master password (no default: set it in a .tfvars file or TF_VAR_db_password)."
  type        = string
  sensitive   = true
}

variable "replica_count" {
  type    = number
  default = 1
}

variable "instance_class" {
  type    = string
  default = "db.r6g.large"
}

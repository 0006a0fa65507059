# pre: smallest settings that still run the real topology (one task, one
# NAT gateway, single-AZ database). Used by the app stack; the base stack
# uses pre-base.tfvars.
environment = "pre"
aws_region  = "eu-west-1"

task_cpu    = 256
task_memory = 512
app_workers = 4
min_tasks   = 1
max_tasks   = 2

db_instance_class           = "db.t4g.micro"
db_allocated_storage_gb     = 20
db_max_allocated_storage_gb = 50
db_multi_az                 = false
db_backup_retention_days    = 1
db_deletion_protection      = false

bucket_versioning  = false
log_retention_days = 14

# pro: two tasks in two AZs at least, Multi-AZ database with 7 days of
# point-in-time recovery, versioned image bucket. Used by the app stack;
# the base stack uses pro-base.tfvars.
environment = "pro"
aws_region  = "eu-west-1"

task_cpu    = 512
task_memory = 1024
app_workers = 8
min_tasks   = 2
max_tasks   = 6

db_instance_class           = "db.t4g.small"
db_allocated_storage_gb     = 50
db_max_allocated_storage_gb = 200
db_multi_az                 = true
db_backup_retention_days    = 7
db_deletion_protection      = true

bucket_versioning  = true
log_retention_days = 90
alarm_email        = ""

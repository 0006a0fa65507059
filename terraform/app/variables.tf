# Per-environment values live in terraform/envs/<environment>.tfvars;
# image_tag and state_bucket come from the deploy workflow.

variable "environment" {
  description = "Environment name; must equal the selected workspace (pre or pro)."
  type        = string

  validation {
    condition     = contains(["pre", "pro"], var.environment)
    error_message = "environment must be pre or pro."
  }
}

variable "aws_region" {
  description = "AWS region of the stack (same as the base stack's)."
  type        = string
}

variable "state_bucket" {
  description = "S3 bucket holding Terraform state, used to read the base stack's outputs."
  type        = string
}

variable "image_tag" {
  description = "Tag (git commit SHA) of the app and nginx images to run."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{7,40}$", var.image_tag))
    error_message = "image_tag must be a git commit SHA."
  }
}

# --- service -----------------------------------------------------------

variable "task_cpu" {
  description = "Fargate task CPU units for both containers together (256 = 0.25 vCPU)."
  type        = number
}

variable "task_memory" {
  description = "Fargate task memory in MiB for both containers together."
  type        = number
}

variable "app_workers" {
  description = "FastCGI page worker processes per task (IOTD_WORKERS)."
  type        = number
  default     = 4
}

variable "app_admin_workers" {
  description = "FastCGI worker processes per task for /admin: uploads, sign-ins, edits (IOTD_ADMIN_WORKERS)."
  type        = number
  default     = 3

  validation {
    condition     = var.app_admin_workers >= 1 && var.app_admin_workers <= 64
    error_message = "app_admin_workers must be between 1 and 64."
  }
}

variable "min_tasks" {
  description = "Minimum (and initial) number of tasks; at least 2 in pro so one AZ can fail."
  type        = number
}

variable "max_tasks" {
  description = "Maximum number of tasks autoscaling may run."
  type        = number
}

variable "requests_per_task_target" {
  description = "Target ALB requests per task per minute (ALBRequestCountPerTarget) for autoscaling."
  type        = number
  default     = 3000
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for container logs, in days."
  type        = number
  default     = 30
}

# --- database ----------------------------------------------------------

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "db_allocated_storage_gb" {
  description = "Initial RDS storage in GiB (gp3)."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage_gb" {
  description = "Upper bound for RDS storage autoscaling in GiB."
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "Run RDS with a synchronous standby in the second AZ (required in pro)."
  type        = bool
}

variable "db_backup_retention_days" {
  description = "Days of automated RDS backups (point-in-time recovery window); 7 in pro."
  type        = number
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database (and take a final snapshot if it is deleted anyway)."
  type        = bool
}

# --- storage -----------------------------------------------------------

variable "bucket_versioning" {
  description = "Keep previous versions of image objects (required in pro)."
  type        = bool
}

variable "s3_prefix" {
  description = "Key prefix of image objects in the bucket (IOTD_S3_PREFIX); the task role is limited to it."
  type        = string
  default     = "images/"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9/_-]*/$", var.s3_prefix))
    error_message = "s3_prefix must be a non-empty path ending in a slash."
  }
}

variable "presign_ttl_seconds" {
  description = "Lifetime of presigned image URLs (IOTD_PRESIGN_TTL)."
  type        = number
  default     = 3600
}

variable "max_upload_mb" {
  description = "Largest accepted upload in MB (IOTD_MAX_UPLOAD_MB, nginx client_max_body_size)."
  type        = number
  default     = 20
}

# --- site --------------------------------------------------------------

variable "admin_user" {
  description = "User name of the first editor, created by the app at start if absent."
  type        = string
  default     = "editor"
}

variable "timezone" {
  description = "Time zone that decides when the image of the day changes (IOTD_TIMEZONE)."
  type        = string
  default     = "UTC"
}

variable "page_max_age_seconds" {
  description = "Cache-Control max-age of public pages (IOTD_PAGE_MAX_AGE); CloudFront honours it."
  type        = number
  default     = 60
}

# --- monitoring --------------------------------------------------------

variable "alarm_email" {
  description = "Address subscribed to the alarm topic; empty for none."
  type        = string
  default     = ""
}

variable "alarm_5xx_percent" {
  description = "Alarm when more than this percentage of requests in 5 minutes are 5xx."
  type        = number
  default     = 5
}

variable "alarm_db_free_storage_gb" {
  description = "Alarm when free RDS storage falls below this many GiB."
  type        = number
  default     = 2
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the app's Embedded Metric Format lines (the app writes iotd)."
  type        = string
  default     = "iotd"
}

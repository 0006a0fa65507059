variable "aws_region" {
  description = "Region of the state bucket and of the environments."
  type        = string
  default     = "eu-west-1"
}

variable "state_bucket" {
  description = "Globally unique name of the Terraform state bucket."
  type        = string
}

variable "github_repository" {
  description = "GitHub repository allowed to assume the roles, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

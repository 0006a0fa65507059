output "state_bucket" {
  description = "Terraform state bucket; set it as the TF_STATE_BUCKET repository variable."
  value       = aws_s3_bucket.state.id
}

output "role_arns" {
  description = "Role ARNs for the AWS_*_ROLE_ARN repository/environment variables (plan, build, deploy-pre, deploy-pro)."
  value       = { for key, role in aws_iam_role.github : key => role.arn }
}

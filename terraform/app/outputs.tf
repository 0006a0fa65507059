# Outputs name things; none of them carries a secret (the database password
# stays in Secrets Manager and is only ever injected into containers).

output "site_url" {
  description = "Public URL of the site (CloudFront)."
  value       = "https://${local.domain_name}/"
}

output "origin_url" {
  description = "URL of the load balancer behind CloudFront, for debugging."
  value       = "https://${local.origin_name}/"
}

output "cluster_name" {
  description = "ECS cluster running the service."
  value       = local.base.cluster_name
}

output "service_name" {
  description = "ECS service name."
  value       = aws_ecs_service.main.name
}

output "task_definition_arn" {
  description = "Task definition revision this apply deployed (compare with the service's primary deployment)."
  value       = aws_ecs_task_definition.main.arn
}

output "migrate_task_definition_arn" {
  description = "Task definition that runs `iotd migrate` once (deploy workflow, before the service moves)."
  value       = aws_ecs_task_definition.migrate.arn
}

output "task_subnet_ids" {
  description = "Private subnets for one-off tasks."
  value       = local.base.private_subnet_ids
}

output "task_security_group_id" {
  description = "Security group for one-off tasks (same as the service's)."
  value       = aws_security_group.tasks.id
}

output "images_bucket" {
  description = "Name of the private image bucket."
  value       = aws_s3_bucket.images.id
}

output "database_endpoint" {
  description = "Host name of the database (reachable only from the tasks)."
  value       = aws_db_instance.main.address
}

output "app_log_group" {
  description = "CloudWatch log group of the app container (JSON lines, EMF metrics)."
  value       = aws_cloudwatch_log_group.app.name
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the environment."
  value       = "https://${var.aws_region}.console.aws.amazon.com/cloudwatch/home?region=${var.aws_region}#dashboards:name=${aws_cloudwatch_dashboard.main.dashboard_name}"
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms publish to."
  value       = aws_sns_topic.alarms.arn
}

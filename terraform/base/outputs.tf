output "vpc_id" {
  description = "ID of the VPC."
  value       = module.vpc.vpc_id
}

output "public_subnet_ids" {
  description = "Public subnets (ALB, NAT gateways)."
  value       = module.vpc.public_subnets
}

output "private_subnet_ids" {
  description = "Private subnets (ECS tasks, one-off migration tasks)."
  value       = module.vpc.private_subnets
}

output "database_subnet_group_name" {
  description = "DB subnet group over the database subnets (no internet route)."
  value       = module.vpc.database_subnet_group_name
}

output "zone_id" {
  description = "Route53 zone ID of the site's domain."
  value       = aws_route53_zone.site.zone_id
}

output "zone_name_servers" {
  description = "Name servers to delegate the domain to (NS record in the parent zone)."
  value       = aws_route53_zone.site.name_servers
}

output "domain_name" {
  description = "DNS name of the site."
  value       = var.domain_name
}

output "regional_certificate_arn" {
  description = "Validated ACM certificate (domain and wildcard) in the stack's region, for the ALB."
  value       = aws_acm_certificate_validation.regional.certificate_arn
}

output "cloudfront_certificate_arn" {
  description = "Validated ACM certificate (domain and wildcard) in us-east-1, for CloudFront."
  value       = aws_acm_certificate_validation.cloudfront.certificate_arn
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.main.arn
}

output "ecr_repository_urls" {
  description = "ECR repository URLs by image (app, nginx)."
  value       = { for key, repository in aws_ecr_repository.image : key => repository.repository_url }
}

export * from './exporters';
export * from './config';
export * from './layer';
export * from './lambda-extension';
export * from './sidecar';
export * from './ec2-agent';

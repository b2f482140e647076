export * from './accreditation-pipeline';
export * from './accreditation-pipeline-props';

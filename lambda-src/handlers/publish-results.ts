// Placeholder replaced by the real handler; kept so that the asset folder exists during bring-up.
export const handler = async (): Promise<never> => {
  throw new Error('publish-results: not implemented yet');
};

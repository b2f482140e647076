import { awscdk, javascript } from "projen";
const project = new awscdk.AwsCdkConstructLibrary({
  author: "medlaunch-elt maintainers",
  authorAddress: "maintainers@medlaunch-elt.dev",
  cdkVersion: "2.245.0",
  experimentalIntegRunner: true,
  jsiiVersion: "~6.0.0",
  name: "medlaunch-elt",
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  repositoryUrl: "https://github.com/medlaunch/medlaunch-elt.git",

  // defaultReleaseBranch: "main",  /* The name of the main release branch. */
  // deps: [],                      /* Runtime dependencies of this module. */
  // description: undefined,        /* The description is just a string that helps people understand the purpose of the package. */
  // devDeps: [],                   /* Build dependencies for this module. */
  // packageName: undefined,        /* The "name" in package.json. */
});
project.synth();
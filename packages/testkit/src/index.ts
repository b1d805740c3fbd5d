export { testNatsUrl, testDatabaseUrl, uniqueName, freshSchema, eventually } from './services.js'

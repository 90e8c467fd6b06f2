// The storage conformance suite on PostgreSQL (the run's embedded server): a fresh database per test.
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import { freshDatabase } from '../helpers/postgres.js';
import { storeConformance } from './conformance/index.js';

storeConformance({
  name: 'postgres',
  async open() {
    const db = await freshDatabase('conf');
    const { stores } = await openPostgresStores({ url: db.url, poolSize: 4 });
    return {
      stores,
      destroy: async () => {
        await stores.close();
        await db.drop();
      },
    };
  },
});
